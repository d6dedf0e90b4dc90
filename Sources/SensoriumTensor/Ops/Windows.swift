// Partition of a channels-last 3-D token grid into non-overlapping windows, and its reverse (Video Swin).

/// Cuts a channels-last token grid into non-overlapping 3-D windows, like Video Swin's
/// `view(B, T/wT, wT, H/wH, wH, W/wW, wW, C).permute(0, 1, 3, 5, 2, 4, 6, 7)`.
///
/// - Parameters:
///   - x: (B, T, H, W, C), each of T, H, W a multiple of its window extent.
///   - windowSize: (wT, wH, wW).
/// - Returns: (B · nT · nH · nW, wT · wH · wW, C): windows in (b, t, h, w) order, and the tokens
///   of a window in (t, h, w) order. Differentiable.
public func windowPartition3d(_ x: Tensor, windowSize: [Int]) -> Tensor {
    precondition(x.rank == 5 && windowSize.count == 3 && windowSize.allSatisfy { $0 > 0 }
                 && (0..<3).allSatisfy { x.shape[$0 + 1] % windowSize[$0] == 0 },
                 "windowPartition3d: x \(x.shape) must be (B, T, H, W, C) with T, H, W multiples of the window \(windowSize)")
    let (b, c) = (x.shape[0], x.shape[4])
    let counts = (0..<3).map { x.shape[$0 + 1] / windowSize[$0] }
    let volume = windowSize.reduce(1, *), windows = counts.reduce(1, *)
    return x.reshaped([b, counts[0], windowSize[0], counts[1], windowSize[1], counts[2], windowSize[2], c])
        .permuted([0, 1, 3, 5, 2, 4, 6, 7])
        .reshaped([b * windows, volume, c])
}

/// Reassembles windows cut by ``windowPartition3d(_:windowSize:)`` into the token grid.
///
/// - Parameters:
///   - windows: (B · nT · nH · nW, wT · wH · wW, C).
///   - windowSize: (wT, wH, wW).
///   - gridSize: (T, H, W), each a multiple of its window extent.
/// - Returns: (B, T, H, W, C). Differentiable.
public func windowReverse3d(_ windows: Tensor, windowSize: [Int], gridSize: [Int]) -> Tensor {
    precondition(windowSize.count == 3 && gridSize.count == 3 && windowSize.allSatisfy { $0 > 0 }
                 && (0..<3).allSatisfy { gridSize[$0] % windowSize[$0] == 0 },
                 "windowReverse3d: grid \(gridSize) must be a multiple of the window \(windowSize) on every axis")
    let counts = (0..<3).map { gridSize[$0] / windowSize[$0] }
    let volume = windowSize.reduce(1, *), perSample = counts.reduce(1, *)
    precondition(windows.rank == 3 && windows.shape[1] == volume && windows.shape[0] % perSample == 0,
                 "windowReverse3d: windows \(windows.shape) must be (B · \(perSample), \(volume), C) for grid \(gridSize) and window \(windowSize)")
    let b = windows.shape[0] / perSample, c = windows.shape[2]
    return windows.reshaped([b, counts[0], counts[1], counts[2], windowSize[0], windowSize[1], windowSize[2], c])
        .permuted([0, 1, 4, 2, 5, 3, 6, 7])
        .reshaped([b] + gridSize + [c])
}
