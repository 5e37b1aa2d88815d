import CLockstepKernels
import LockstepCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `cpu` backend: C kernels with run-time instruction-set dispatch (AVX-512, AVX2, NEON,
/// portable scalar) on a pool of worker threads.
///
/// Every op returns exactly the bits of `ReferenceBackend`, for every instruction set and every
/// thread count: matrix and attention products are exact sums rounded once, and light ops run
/// the reference's operation sequence (see `Sources/CLockstepKernels`).
public final class CPUBackend: Backend, @unchecked Sendable {
    /// Worker threads in all (the calling thread is one of them): the count asked for, or fewer
    /// when the system would not start more.
    public let threads: Int
    /// The instruction-set path every op takes.
    public let isa: CPUISA
    /// Whether the avx512 path may use its VNNI kernels (when the CPU has VNNI).
    public let allowVNNI: Bool
    private let code: Int32
    public var name: String { "cpu" }

    private let pool: OpaquePointer?
    private let hints: HintCache

    /// The most threads a backend takes. More threads than cores never help (the ops are
    /// compute-bound, and the bits do not depend on the count), and a count in the thousands
    /// would take the system's thread slots from every other process.
    public static let maxThreads = 256

    /// The paths this machine can run, slowest first.
    public static var availableISAs: [CPUISA] { CPUISA.allCases.filter(\.isAvailable) }

    /// A backend on `threads` (1 … `maxThreads`) threads, taking `isa` (default: `$LOCKSTEP_CPU_ISA` if set,
    /// else the fastest path available).
    /// - Precondition: `isa` is available here, and `$LOCKSTEP_CPU_ISA` (when used) names an
    ///   available path. Use `make(threads:isa:)` to get an error instead.
    ///   `allowVNNI: false` keeps the avx512 path off its VNNI kernels (same bits; for tests
    ///   and measurements).
    public convenience init(threads: Int, isa: CPUISA? = nil, allowVNNI: Bool = true) {
        do { try self.init(checkedThreads: threads, isa: isa, allowVNNI: allowVNNI) } catch { preconditionFailure("CPUBackend: \(error)") }
    }

    /// Like `init(threads:isa:)`, throwing instead of trapping.
    public static func make(threads: Int, isa: CPUISA? = nil, allowVNNI: Bool = true) throws(CPUBackendError) -> CPUBackend {
        try CPUBackend(checkedThreads: threads, isa: isa, allowVNNI: allowVNNI)
    }

    /// Whether this machine has the VNNI instructions the avx512 path can use.
    public static var hasVNNI: Bool { lk_cpu_has_avx512vnni_public() != 0 }

    private convenience init(checkedThreads threads: Int, isa: CPUISA?, allowVNNI: Bool) throws(CPUBackendError) {
        guard (1 ... Self.maxThreads).contains(threads) else {
            throw CPUBackendError("threads must be between 1 and \(Self.maxThreads), got \(threads)")
        }
        let chosen: CPUISA
        if let isa {
            guard isa.isAvailable else {
                throw CPUBackendError("instruction set \(isa) is not available here (available: \(Self.availableISAs.map(\.rawValue).joined(separator: ", ")))")
            }
            chosen = isa
        } else {
            chosen = try CPUISA.fromEnvironment() ?? .best
        }
        self.init(threads: threads, availableISA: chosen, allowVNNI: allowVNNI, hints: HintCache())
    }

    /// Precondition: `threads` in 1 … `maxThreads` and `isa` is available here (both checked by
    /// the callers).
    private init(threads: Int, availableISA isa: CPUISA, allowVNNI: Bool, hints: HintCache) {
        self.isa = isa
        self.allowVNNI = allowVNNI
        code = isa.code | (allowVNNI ? 0 : Int32(LK_ISA_NO_VNNI))
        pool = threads > 1 ? lk_pool_create(Int32(threads)) : nil
        self.threads = pool.map { Int(lk_pool_threads($0)) } ?? 1   // the pool runs with the workers it could start
        self.hints = hints
    }

    deinit { if let pool { lk_pool_destroy(pool) } }

    public func supports(_ op: BackendOp) -> Bool { true }

    /// On the pool's threads: its workers spin for a while after each op, so host work between
    /// ops (hashing a trace's rows) starts at once, without waking other threads.
    public func forEachRowRange(_ count: Int, _ body: (Range<Int>) -> Void) {
        let parts = rowRangeCount(count, threads: threads)
        guard let pool, parts > 1 else { return body(0 ..< count) }
        withoutActuallyEscaping(body) { body in
            var job = RowRangeJob(count: count, body: body)
            withUnsafeMutablePointer(to: &job) { job in
                lk_pool_run(pool, Int32(parts), { context, part, parts in
                    let job = context!.assumingMemoryBound(to: RowRangeJob.self).pointee
                    job.body(rowRange(Int(part), of: Int(parts), rows: job.count))
                }, job)
            }
        }
    }

    public func quantize(_ x: UnsafeBufferPointer<Float>, rows: Int, columns: Int) -> QuantizedActivations {
        precondition(rows >= 0 && columns >= 0 && x.count >= rows * columns, "quantize: buffer shorter than rows × columns")
        if rows == 0 || columns == 0 { return QuantizedActivations(rows: rows, columns: columns) }
        // lk_quantize writes every integer (padding included), exponent and sum.
        return QuantizedActivations(rows: rows, columns: columns) { v, e, s in
            lk_quantize(pool, code, x.baseAddress!, Int64(rows), Int64(columns), v.baseAddress!, e.baseAddress!, s.baseAddress!)
        }
    }

    public func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>) {
        matmul([w], x, into: [y])
    }

    /// One `lk_matmul_many` call when the matrices share a format: the activations' per-token
    /// tables are built once and all their rows are shared out in one pool job.
    public func matmul(_ ws: [WeightMatrix], _ x: QuantizedActivations, into ys: [UnsafeMutableBufferPointer<Float>]) {
        precondition(ws.count == ys.count, "matmul: \(ws.count) matrices, \(ys.count) outputs")
        for (w, y) in zip(ws, ys) {
            precondition(x.blocksPerRow == w.blocksPerRow, "matmul: activation and weight widths differ")
            precondition(y.count >= x.rows * w.rows, "matmul: output buffer too small")
        }
        guard let format = ws.first?.format, ws.allSatisfy({ $0.format == format }) else {
            for (w, y) in zip(ws, ys) { matmul([w], x, into: [y]) }
            return
        }
        if x.rows == 0 { return }
        // Cached per matrix (none for an empty one); `targets` points into them.
        let hints = ws.map { $0.rows > 0 && $0.blocksPerRow > 0 ? self.hints.hints(for: $0, format: Self.formatCode(format)) : nil }
        let targets = ws.indices.map { i in
            lk_matmul_target(weights: ws[i].bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), rows: Int64(ws[i].rows),
                             hints: hints[i].map { UnsafePointer($0.values.baseAddress!) }, y: ys[i].baseAddress)
        }
        x.values.withUnsafeBufferPointer { v in
            x.exponents.withUnsafeBufferPointer { e in
                x.sums.withUnsafeBufferPointer { s in
                    lk_matmul_many(pool, code, Self.formatCode(format), Int64(x.blocksPerRow), targets, Int32(targets.count),
                                   v.baseAddress, e.baseAddress, s.baseAddress, Int64(x.rows))
                }
            }
        }
        withExtendedLifetime((hints, ws.map(\.owner))) {}
    }

    /// `min(count, threads)` one-thread backends on this backend's instruction-set path that share
    /// its per-row hints (those `prepare` computed are not computed again); `[self]` when that is
    /// one. Same bits at any thread count.
    public func concurrentLanes(_ count: Int) -> [any Backend] {
        let n = min(count, threads)
        guard n > 1 else { return [self] }
        return (0 ..< n).map { _ in CPUBackend(threads: 1, availableISA: isa, allowVNNI: allowVNNI, hints: hints) }
    }

    /// Computes the per-row hints of every matrix now (`matmul` would on first use).
    public func prepare(_ matrices: [WeightMatrix]) {
        for w in matrices where w.rows > 0 && w.blocksPerRow > 0 { _ = hints.hints(for: w, format: Self.formatCode(w.format)) }
    }

    private static func formatCode(_ f: WeightFormat) -> Int32 {
        switch f {
        case .q8_0: return Int32(LK_Q8_0.rawValue)
        case .q4_0: return Int32(LK_Q4_0.rawValue)
        case .q4_1: return Int32(LK_Q4_1.rawValue)
        }
    }

    public func rmsNorm(_ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>, rows: Int, epsilon: Float,
                        into y: UnsafeMutableBufferPointer<Float>) {
        let n = weight.count
        precondition(x.count >= rows * n && y.count >= rows * n, "rmsNorm: buffers shorter than rows × n")
        if rows == 0 || n == 0 { return }
        lk_rms_norm(pool, code, x.baseAddress!, weight.baseAddress!, Int64(rows), Int64(n), epsilon, y.baseAddress!)
    }

    public func rope(_ x: UnsafeMutableBufferPointer<Float>, rows: Int, heads: Int, headDim: Int, positions: [Int], angles: RopeAngles) {
        precondition(2 * angles.pairs <= headDim && positions.count >= rows, "rope: bad shape")
        precondition(x.count >= rows * heads * headDim, "rope: buffer shorter than rows × heads × headDim")
        for t in 0..<rows {
            precondition(positions[t] >= 0 && positions[t] <= RopeAngles.maxPosition, "RopeAngles: position \(positions[t]) out of range")
        }
        if rows == 0 || heads == 0 { return }
        let pos = positions.prefix(rows).map { Int64($0) }
        pos.withUnsafeBufferPointer { p in
            angles.inverseFrequencies.withUnsafeBufferPointer { f in
                lk_rope(pool, code, x.baseAddress!, Int64(rows), Int64(heads), Int64(headDim), p.baseAddress!, f.baseAddress!,
                        Int64(angles.pairs))
            }
        }
    }

    public func attention(queries: UnsafeBufferPointer<Float>, rows: Int, positions: [Int], cache: KVCache, layer: Int,
                          into out: UnsafeMutableBufferPointer<Float>) {
        let shape = cache.shape
        let width = shape.heads * shape.headDim
        precondition(positions.count >= rows && queries.count >= rows * width && out.count >= rows * width,
                     "attention: buffers shorter than rows × heads × headDim")
        if rows == 0 { return }
        let length = cache.length(layer: layer)
        for t in 0..<rows {
            precondition(positions[t] >= 0 && positions[t] + 1 <= length, "attention: position \(positions[t]) not in the cache")
        }
        let pos = positions.prefix(rows).map { Int64($0) }
        let keys = cache.keys[layer], keyExps = cache.keyExponents[layer]
        let values = cache.values[layer], valueExps = cache.valueExponents[layer]
        let status = keys.withUnsafeBufferPointer { k in
            keyExps.withUnsafeBufferPointer { ke in
                values.withUnsafeBufferPointer { v in
                    valueExps.withUnsafeBufferPointer { ve in
                        pos.withUnsafeBufferPointer { p in
                            var c = lk_attention_cache(heads: Int64(shape.heads), kv_heads: Int64(shape.kvHeads),
                                                       head_dim: Int64(shape.headDim), scale: shape.scale,
                                                       cache_length: Int64(length), keys: k.baseAddress,
                                                       key_exponents: ke.baseAddress, values: v.baseAddress,
                                                       value_exponents: ve.baseAddress)
                            return lk_attention(pool, code, queries.baseAddress!, Int64(rows), p.baseAddress!, &c,
                                                out.baseAddress!)
                        }
                    }
                }
            }
        }
        precondition(status == 0, "attention: the kernel rejected the shape")
    }

    public func siluMul(gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>) {
        precondition(up.count >= gate.count && out.count >= gate.count, "siluMul: buffers differ in length")
        if gate.count == 0 { return }
        lk_silu_mul(pool, code, gate.baseAddress!, up.baseAddress!, out.baseAddress!, Int64(gate.count))
    }

    public func add(_ x: UnsafeMutableBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>) {
        precondition(y.count >= x.count, "add: buffers differ in length")
        if x.count == 0 { return }
        lk_add(pool, code, x.baseAddress!, y.baseAddress!, Int64(x.count))
    }
}

/// Per-row hints for the matmul fast path, computed once per weight matrix (keyed by its
/// address and shape). Hints only affect speed: a stale entry makes the kernels take the exact
/// fallback more often, never changes a result.
final class HintCache: @unchecked Sendable {
    private struct Key: Hashable {
        let address: UInt
        let count: Int
        let rows: Int
        let format: Int32

        /// Whether `other`'s rows are whole rows of this matrix (same format and row length).
        func contains(_ other: Key) -> Bool {
            guard format == other.format, rows > 0, other.rows > 0, count % rows == 0, other.count == other.rows * (count / rows),
                  other.count <= count, other.address >= address, other.address - address <= UInt(count - other.count) else { return false }
            return (other.address - address) % UInt(count / rows) == 0
        }
    }
    private var entries: [Key: RowHints] = [:]
    private let lock: UnsafeMutablePointer<pthread_mutex_t>

    init() {
        lock = .allocate(capacity: 1)
        lock.initialize(to: pthread_mutex_t())
        pthread_mutex_init(lock, nil)
    }
    deinit {
        pthread_mutex_destroy(lock)
        lock.deallocate()
    }

    /// Precondition: `w` has rows and blocks.
    func hints(for w: WeightMatrix, format: Int32) -> RowHints {
        let key = Key(address: UInt(bitPattern: w.bytes.baseAddress), count: w.bytes.count, rows: w.rows, format: format)
        pthread_mutex_lock(lock)
        if let h = entries[key] { pthread_mutex_unlock(lock); return h }
        let whole = entries.first { $0.key.contains(key) }
        pthread_mutex_unlock(lock)
        let h = RowHints(rows: w.rows)
        if let (k, parent) = whole {
            // Rows of a matrix already hinted (`WeightMatrix.rows(_:)`, the output head's
            // vocabulary slices): a row's hint depends on that row alone.
            let first = Int(key.address - k.address) / w.rowBytes
            _ = h.values.initialize(from: parent.values[first ..< first + w.rows])
        } else {
            lk_matmul_hints(format, w.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), Int64(w.rows),
                            Int64(w.blocksPerRow), h.values.baseAddress!)
        }
        pthread_mutex_lock(lock)
        if entries.count >= 1024 { entries.removeAll(keepingCapacity: true) }
        entries[key] = h
        pthread_mutex_unlock(lock)
        return h
    }
}

/// One matrix's per-row hints (`lk_matmul_hints`), at a fixed address for the kernels' calls.
final class RowHints: @unchecked Sendable {
    let values: UnsafeMutableBufferPointer<Int8>
    init(rows: Int) {
        values = .allocate(capacity: rows)
        values.initialize(repeating: 0)
    }
    deinit { values.deallocate() }
}

/// The context of a `forEachRowRange` pool job.
private struct RowRangeJob {
    let count: Int
    let body: (Range<Int>) -> Void
}
