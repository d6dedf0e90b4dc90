import Foundation
import Sensorium
import SensoriumTestSupport

// MARK: - ViV1T ops of the parity vocabulary (cases made by Tools/make_vivit_parity_fixtures.py)

extension ParityCase {
    /// The op names this extension handles.
    static let vivitOps: Set<String> = [
        "unfold3d_patches", "blocked_scaled_dot_product_attention", "multihead_blocked_attention", "correlation_loss",
    ]

    /// - `unfold3d_patches`: x (B, C, T, H, W); params `kernel`, `stride` (3 each).
    /// - `blocked_scaled_dot_product_attention`: q, k, v (…, L, d); param `block_size`.
    /// - `multihead_blocked_attention`: q, k, v (B, N, H·d) with heads packed `(h d)`; params `heads`, `block_size`.
    /// - `correlation_loss`: prediction, target (samples, neurons); param `eps`.
    func vivitCase(_ t: [String: Tensor]) throws -> Tensor {
        func input(_ name: String) throws -> Tensor {
            guard let x = t[name] else { throw FixtureError.malformed("\(op): input \(name) missing") }
            return x
        }
        func intParam(_ key: String) throws -> Int {
            guard let n = params[key] as? NSNumber else { throw FixtureError.malformed("\(op): param \(key) missing") }
            return n.intValue
        }
        func intsParam(_ key: String) throws -> [Int] {
            guard let values = params[key] as? [NSNumber] else { throw FixtureError.malformed("\(op): param \(key) missing") }
            return values.map(\.intValue)
        }
        switch op {
        case "unfold3d_patches":
            return unfoldPatches3d(try input("x"), kernel: try intsParam("kernel"), stride: try intsParam("stride"))
        case "blocked_scaled_dot_product_attention":
            return blockedScaledDotProductAttention(try input("q"), try input("k"), try input("v"),
                                                    blockSize: try intParam("block_size"))
        case "multihead_blocked_attention":
            return multiHeadBlockedAttention(try input("q"), try input("k"), try input("v"), heads: try intParam("heads"),
                                             blockSize: try intParam("block_size"))
        case "correlation_loss":
            guard let eps = params["eps"] as? NSNumber else { throw FixtureError.malformed("\(op): param eps missing") }
            return correlationLoss(try input("prediction"), target: try input("target"), eps: eps.floatValue)
        default:
            throw FixtureError.malformed("\(op) is not a ViV1T op")
        }
    }
}
