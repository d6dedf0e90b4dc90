import Foundation
import SensoriumTensor

/// Behaviour over a stretch of frames: the raw traces written to disk.
struct BehaviorTrace {
    /// Pupil dilation (arbitrary units, ≈ 12–35).
    var pupil: [Float]
    /// Running speed (cm/s, ≈ 0–30, small negative noise when still).
    var running: [Float]
    /// Horizontal and vertical eye position (eye-camera units around 70, 50).
    var eyeX: [Float]
    var eyeY: [Float]
}

/// A continuous behavioural session at 30 Hz: running bouts (a two-state process with smoothed
/// speed), pupil dilation that follows running on top of slow fluctuations, and an eye position
/// drifting around its centre with saccades (more frequent while running).
struct BehaviorSimulator {
    static let eyeCenterX: Double = 70, eyeCenterY: Double = 50
    /// Constants turning raw traces into the z-like features the gain model uses.
    static let runningMean = 5.0, runningScale = 8.0, pupilMean = 21.0, pupilScale = 4.0

    let g: RandomGenerator
    var running = false
    var boutSpeed = 15.0
    var speed = 0.0
    var pupilBase = 18.0
    var runDrive = 0.0
    var eyeX = eyeCenterX, eyeY = eyeCenterY

    init(generator: RandomGenerator) {
        g = generator
        running = g.chance(0.35)
        boutSpeed = g.uniform(8, 25)
        speed = running ? boutSpeed : 0
        runDrive = running ? 1 : 0
        pupilBase = g.normal(18, 2)
    }

    /// Advances one frame.
    mutating func step() -> (pupil: Double, running: Double, eyeX: Double, eyeY: Double) {
        if running {
            if g.chance(1.0 / (8 * 30)) { running = false }
        } else if g.chance(1.0 / (14 * 30)) {
            running = true
            boutSpeed = g.uniform(8, 25)
        }
        let target = running ? boutSpeed : 0
        speed += (target - speed) / 15 + (running ? g.normal(0, 0.8) : 0)
        runDrive += ((running ? 1 : 0) - runDrive) / 45
        pupilBase += -(pupilBase - 18) / 90 + g.normal(0, 0.45)
        let pupil = pupilBase + 7 * runDrive + g.normal(0, 0.1)
        // Eye: Ornstein–Uhlenbeck drift around the centre plus saccades.
        eyeX += -(eyeX - Self.eyeCenterX) / 60 + g.normal(0, 0.27)
        eyeY += -(eyeY - Self.eyeCenterY) / 60 + g.normal(0, 0.2)
        if g.chance((running ? 1.0 : 0.4) / 30) {
            eyeX += g.normal(0, 4)
            eyeY += g.normal(0, 2)
        }
        let observedSpeed = speed + g.normal(0, running ? 0.3 : 0.15)
        return (pupil, observedSpeed, eyeX + g.normal(0, 0.05), eyeY + g.normal(0, 0.05))
    }

    /// Advances `frames` frames and returns them.
    mutating func trace(frames: Int) -> BehaviorTrace {
        var t = BehaviorTrace(pupil: [], running: [], eyeX: [], eyeY: [])
        t.pupil.reserveCapacity(frames); t.running.reserveCapacity(frames)
        t.eyeX.reserveCapacity(frames); t.eyeY.reserveCapacity(frames)
        for _ in 0..<frames {
            let s = step()
            t.pupil.append(Float(s.pupil)); t.running.append(Float(s.running))
            t.eyeX.append(Float(s.eyeX)); t.eyeY.append(Float(s.eyeY))
        }
        return t
    }

    /// Advances `frames` frames without recording (inter-trial intervals).
    mutating func skip(frames: Int) { for _ in 0..<frames { _ = step() } }
}
