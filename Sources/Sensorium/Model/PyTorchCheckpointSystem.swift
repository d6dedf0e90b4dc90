import Foundation
import SensoriumTensor

/// Whose PyTorch model a state dictionary comes from: it fixes how the checkpoint's keys map onto
/// a ``VideoModel``'s (a ``StateKeyMapping``), so that `sensorium import --system …` loads the
/// released checkpoints of the SENSORIUM 2023 winners by key.
///
/// | system | PyTorch keys | ours |
/// |---|---|---|
/// | `starterKit` | the starter kit's `VideoFiringRateEncoder` | ``VideoModel/pytorchKeyMapping`` |
/// | `dwiseneuro` | `core.…`, `cortex.…`, `readouts.<i>.…` | `core.…`, `stage.…`, `readout.<mouse i>.…` |
/// | `dynamicV1FM` | `module.core.…`, `module.readout.<mouse>.…`, `module.shifter.<mouse>.…` (DataParallel) | without `module.` |
/// | `viv1t` | `core.vivit.…`, `readouts.<id>.…`, `shifters.<id>.…` | `core.vivit.…`, `readout.<mouse>.…`, `shifter.<mouse>.…` |
///
/// Readouts named by index (DwiseNeuro: 0, 1, …) or id (ViV1T: A, B, …) belong to mice in the
/// system's own order: when every mouse of the model is one of the ten SENSORIUM 2023 mice, the
/// order the winner used (DwiseNeuro: the five new mice, then the five old ones; ViV1T: A–E the
/// old mice, F–J the new ones); otherwise the model's mouse order (the order of the mouse folders
/// given), which must then be the checkpoint's.
public enum PyTorchCheckpointSystem: String, CaseIterable, Sendable, Codable {
    /// The SENSORIUM 2023 starter kit (the baselines).
    case starterKit
    /// DwiseNeuro (1st place, lRomul/sensorium): `nn_state_dict` of its checkpoints.
    case dwiseneuro
    /// Dynamic-V1FM (2nd place, zhuyu-cs/Dynamic-VFM): the released `.pth` state dictionaries.
    case dynamicV1FM
    /// ViV1T (3rd place, bryanlimy/ViV1T): `ckpt["model"]` of its checkpoints.
    case viv1t

    /// The ten SENSORIUM 2023 mice in DwiseNeuro's readout order (`readouts.0` … `readouts.9`):
    /// the five new mice, then the five old ones.
    public static let dwiseneuroMice = [
        "dynamic29515-10-12-Video-9b4f6a1a067fe51e15306b9628efea20", "dynamic29623-4-9-Video-9b4f6a1a067fe51e15306b9628efea20",
        "dynamic29647-19-8-Video-9b4f6a1a067fe51e15306b9628efea20", "dynamic29712-5-9-Video-9b4f6a1a067fe51e15306b9628efea20",
        "dynamic29755-2-8-Video-9b4f6a1a067fe51e15306b9628efea20", "dynamic29156-11-10-Video-8744edeac3b4d1ce16b680916b5267ce",
        "dynamic29228-2-10-Video-8744edeac3b4d1ce16b680916b5267ce", "dynamic29234-6-9-Video-8744edeac3b4d1ce16b680916b5267ce",
        "dynamic29513-3-5-Video-8744edeac3b4d1ce16b680916b5267ce", "dynamic29514-2-9-Video-8744edeac3b4d1ce16b680916b5267ce",
    ]

    /// The ten mice in ViV1T's id order (`A` … `J`): the five old mice, then the five new ones.
    public static let viv1tMice = Array(dwiseneuroMice[5...] + dwiseneuroMice[..<5])

    /// The mapping for a state dictionary with keys `stateKeys` loaded into `model`. Throws
    /// ``SensoriumError/incompatibleState(source:message:)`` when the checkpoint's readouts cannot
    /// be matched with the model's mice.
    public func keyMapping(for model: VideoModel, stateKeys: some Collection<String>, source: String = "state_dict") throws -> StateKeyMapping {
        typealias Rule = StateKeyMapping.Rule
        switch self {
        case .starterKit:
            return model.pytorchKeyMapping
        case .dynamicV1FM:
            // DataParallel's prefix, when the keys have it (a converted file may have it stripped).
            return stateKeys.contains { $0.hasPrefix("module.") } ? StateKeyMapping(rules: [Rule(pytorchPrefix: "module.", swiftPrefix: "")]) : .identity
        case .dwiseneuro:
            let ids = Self.readoutIDs(in: stateKeys, container: "readouts").sorted { (Int($0) ?? .max, $0) < (Int($1) ?? .max, $1) }
            let mice = try Self.assign(ids: ids, named: Self.dwiseneuroMice, model: model, source: source, system: self)
            return StateKeyMapping(rules: [Rule(pytorchPrefix: "cortex.", swiftPrefix: "stage.")]
                + mice.map { Rule(pytorchPrefix: "readouts.\($0.id).", swiftPrefix: "readout.\($0.mouse).") })
        case .viv1t:
            let ids = Self.readoutIDs(in: stateKeys, container: "readouts").union(Self.readoutIDs(in: stateKeys, container: "shifters")).sorted()
            let mice = try Self.assign(ids: ids, named: Self.viv1tMice, model: model, source: source, system: self)
            return StateKeyMapping(rules: mice.flatMap {
                [Rule(pytorchPrefix: "readouts.\($0.id).", swiftPrefix: "readout.\($0.mouse)."),
                 Rule(pytorchPrefix: "shifters.\($0.id).", swiftPrefix: "shifter.\($0.mouse).")]
            })
        }
    }

    /// The `<id>` of every key `<container>.<id>.…`.
    static func readoutIDs(in keys: some Collection<String>, container: String) -> Set<String> {
        var ids = Set<String>()
        for key in keys {
            let parts = key.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
            if parts.count == 3 && parts[0] == container { ids.insert(String(parts[1])) }
        }
        return ids
    }

    /// The mouse of each checkpoint id (`ids` in the checkpoint's order): by the winner's own mouse
    /// order when every model mouse is one of `named` and the checkpoint has one id per name, else
    /// by the model's mouse order.
    static func assign(ids: [String], named: [String], model: VideoModel, source: String,
                       system: PyTorchCheckpointSystem) throws -> [(id: String, mouse: String)] {
        let mice = model.mice
        if ids.count == named.count && Set(mice).isSubset(of: named) {
            return zip(ids, named).filter { mice.contains($0.1) }.map { (id: $0.0, mouse: $0.1) }
        }
        guard ids.count == mice.count else {
            throw SensoriumError.incompatibleState(source: source, message: "the \(system.rawValue) checkpoint has readouts for \(ids.count) mice (\(ids.joined(separator: ", "))), the model for \(mice.count) (\(mice.joined(separator: ", "))); give the mouse folders the checkpoint was trained on, in its readout order")
        }
        return zip(ids, mice).map { (id: $0.0, mouse: $0.1) }
    }
}
