/// The tier (split) of a trial, as written in `meta/trials/tiers.npy`.
public enum MouseTier: String, CaseIterable, Sendable, Hashable, Codable {
    /// Training trials: every trial a unique clip.
    case train
    /// Validation trials ("oracle"): a few natural clips, each repeated.
    case oracle
    /// Live test, natural movies (main track).
    case liveTestMain = "live_test_main"
    /// Live test, out-of-distribution stimuli (bonus track).
    case liveTestBonus = "live_test_bonus"
    /// Final test, natural movies (main track).
    case finalTestMain = "final_test_main"
    /// Final test, out-of-distribution stimuli (bonus track).
    case finalTestBonus = "final_test_bonus"
    /// Trials the loaders skip.
    case none

    /// Whether the tier holds repeated clips (everything except `train` and `none`).
    public var hasRepeats: Bool { self != .train && self != .none }
}
