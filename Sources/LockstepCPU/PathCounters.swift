import CLockstepKernels

/// Process-wide counters of which arithmetic path the `cpu` backend's exact sums took.
///
/// Both paths give the same bits (the int64 fast path is taken only when it is provably exact,
/// otherwise a wide exact accumulator is used); the counters let tests and benchmarks see that
/// both are exercised and how often the slow one runs.
public struct CPUPathCounters: Sendable, Equatable, CustomStringConvertible {
    /// Matrix-product outputs computed.
    public var matmulOutputs: UInt64
    /// Of those, outputs that took the general exact accumulator.
    public var matmulExactFallbacks: UInt64
    /// Attention sums computed (scores and P·V outputs).
    public var attentionSums: UInt64
    /// Of those, sums that took the general exact accumulator.
    public var attentionExactFallbacks: UInt64

    /// The counters now.
    public static func read() -> CPUPathCounters {
        var v = [UInt64](repeating: 0, count: 4)
        v.withUnsafeMutableBufferPointer { lk_stats($0.baseAddress!) }
        return CPUPathCounters(matmulOutputs: v[0], matmulExactFallbacks: v[1], attentionSums: v[2], attentionExactFallbacks: v[3])
    }

    /// Sets every counter to zero.
    public static func reset() { lk_stats_reset() }

    public var description: String {
        "matmul \(matmulOutputs) outputs (\(matmulExactFallbacks) exact fallbacks), attention \(attentionSums) sums (\(attentionExactFallbacks) exact fallbacks)"
    }
}
