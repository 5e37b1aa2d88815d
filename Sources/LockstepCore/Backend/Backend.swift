/// An operation a backend may implement (ggml-style `supports(op)`).
public enum BackendOp: Hashable, Sendable, CustomStringConvertible {
    /// Activation quantisation (int16, power-of-two scale per block of 32).
    case quantize
    /// Exact matrix product with weights in the given block format.
    case matmul(WeightFormat)
    /// RMSNorm.
    case rmsNorm
    /// Rotary position embedding.
    case rope
    /// Causal attention over the KV cache (exact Q·Kᵀ, softmax, exact P·V).
    case attention
    /// SwiGLU: `silu(gate) · up`.
    case siluMul
    /// Residual add.
    case add

    public var description: String {
        switch self {
        case .quantize: return "quantize"
        case .matmul(let f): return "matmul(\(f.rawValue))"
        case .rmsNorm: return "rms_norm"
        case .rope: return "rope"
        case .attention: return "attention"
        case .siluMul: return "silu_mul"
        case .add: return "add"
        }
    }

    /// Every operation the model uses.
    public static let all: [BackendOp] = [.quantize] + WeightFormat.allCases.map { .matmul($0) } +
        [.rmsNorm, .rope, .attention, .siluMul, .add]
}

/// A compute backend. Every backend must produce exactly the bits of `ReferenceBackend` for
/// every op it supports (the conformance suite checks this byte for byte).
///
/// Buffers are host memory, row-major; shapes are given in each method's documentation.
public protocol Backend: AnyObject, Sendable {
    /// Short name used on the command line (`reference`, `cpu`, ...).
    var name: String { get }
    /// Whether the backend implements `op`.
    func supports(_ op: BackendOp) -> Bool
    /// Quantises `rows × columns` binary32 activations (SPEC §2.1).
    func quantize(_ x: UnsafeBufferPointer<Float>, rows: Int, columns: Int) -> QuantizedActivations
    /// `y[t·w.rows + r] = round(Σₖ w[r,k]·x[t,k])` exactly (SPEC §2.3); `y` holds
    /// `x.rows × w.rows` values. Precondition: `x.blocksPerRow == w.blocksPerRow`.
    func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>)
    /// The products of several matrices with the same activations: `ys[i]` gets exactly what
    /// `matmul(ws[i], x, into: ys[i])` writes (a block's query, key and value products; its gate
    /// and up products). Default: those calls one after another.
    func matmul(_ ws: [WeightMatrix], _ x: QuantizedActivations, into ys: [UnsafeMutableBufferPointer<Float>])
    /// RMSNorm of each of `rows` rows of length `weight.count` (SPEC §3.2).
    func rmsNorm(_ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>, rows: Int, epsilon: Float,
                 into y: UnsafeMutableBufferPointer<Float>)
    /// Rotates, in place, each of `heads` head vectors (length `headDim`) of each of `rows` rows
    /// at `positions[row]` (SPEC §3.4).
    func rope(_ x: UnsafeMutableBufferPointer<Float>, rows: Int, heads: Int, headDim: Int, positions: [Int], angles: RopeAngles)
    /// Causal attention of `rows` query rows (each `heads × headDim`, after RoPE) against
    /// `cache` layer `layer`, query `t` seeing positions `0...positions[t]` (SPEC §3.5);
    /// writes `rows × heads × headDim` values to `out`.
    func attention(queries: UnsafeBufferPointer<Float>, rows: Int, positions: [Int], cache: KVCache, layer: Int,
                   into out: UnsafeMutableBufferPointer<Float>)
    /// `out[i] = silu(gate[i]) · up[i]` (SPEC §3.3).
    func siluMul(gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>)
    /// `x[i] += y[i]`.
    func add(_ x: UnsafeMutableBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>)
    /// Does the once-per-matrix work a backend would otherwise do on a matrix's first product
    /// (the `cpu` backend's per-row exponent hints), so that later products — a spot-check's few
    /// steps — do not pay it. Changes no result. Default: nothing.
    func prepare(_ matrices: [WeightMatrix])
    /// Runs `body` over rows `0 ..< count`, split into contiguous ranges on the threads this
    /// backend computes with (the `cpu` backend's pool, whose workers are awake between ops), and
    /// waits. For host work between ops, such as hashing a trace's rows: `body` must touch only
    /// the rows of its range and must not call the backend. Changes no result.
    /// Default: `forEachRowRangeConcurrently`.
    func forEachRowRange(_ count: Int, _ body: (Range<Int>) -> Void)
    /// Up to `count` (≥ 1) backends for independent work that may run at the same time, each
    /// called from its own thread: together they compute with this backend's threads, and each
    /// gives this backend's bits for every op. A verifier that recomputes many small, unrelated
    /// steps (a spot-check) runs one step per lane instead of sharing every small op out over all
    /// threads. Default: `[self]` (the backend is called from one thread at a time).
    func concurrentLanes(_ count: Int) -> [any Backend]
}

extension Backend {
    public func matmul(_ ws: [WeightMatrix], _ x: QuantizedActivations, into ys: [UnsafeMutableBufferPointer<Float>]) {
        precondition(ws.count == ys.count, "matmul: \(ws.count) matrices, \(ys.count) outputs")
        for (w, y) in zip(ws, ys) { matmul(w, x, into: y) }
    }
    public func prepare(_ matrices: [WeightMatrix]) {}
    public func forEachRowRange(_ count: Int, _ body: (Range<Int>) -> Void) {
        forEachRowRangeConcurrently(count, body)
    }
    public func concurrentLanes(_ count: Int) -> [any Backend] { [self] }
}

/// Why a backend cannot be created or run here; the message names what is missing.
public struct BackendError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
