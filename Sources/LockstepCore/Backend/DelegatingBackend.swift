/// A backend that accelerates some ops and runs every other op on `fallback`: conformers
/// implement what they accelerate (usually `matmul`) and inherit the rest from this extension.
public protocol DelegatingBackend: Backend {
    /// The backend for the ops this one does not implement itself.
    var fallback: any Backend { get }
}

extension DelegatingBackend {
    public func supports(_ op: BackendOp) -> Bool { fallback.supports(op) }
    public func quantize(_ x: UnsafeBufferPointer<Float>, rows: Int, columns: Int) -> QuantizedActivations {
        fallback.quantize(x, rows: rows, columns: columns)
    }
    public func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>) {
        fallback.matmul(w, x, into: y)
    }
    public func rmsNorm(_ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>, rows: Int, epsilon: Float,
                        into y: UnsafeMutableBufferPointer<Float>) {
        fallback.rmsNorm(x, weight: weight, rows: rows, epsilon: epsilon, into: y)
    }
    public func rope(_ x: UnsafeMutableBufferPointer<Float>, rows: Int, heads: Int, headDim: Int, positions: [Int], angles: RopeAngles) {
        fallback.rope(x, rows: rows, heads: heads, headDim: headDim, positions: positions, angles: angles)
    }
    public func attention(queries: UnsafeBufferPointer<Float>, rows: Int, positions: [Int], cache: KVCache, layer: Int,
                          into out: UnsafeMutableBufferPointer<Float>) {
        fallback.attention(queries: queries, rows: rows, positions: positions, cache: cache, layer: layer, into: out)
    }
    public func siluMul(gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>) {
        fallback.siluMul(gate: gate, up: up, into: out)
    }
    public func add(_ x: UnsafeMutableBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>) {
        fallback.add(x, y)
    }
    /// Prepares `fallback`, which runs the products this backend leaves to it (a conformer that
    /// keeps per-matrix state of its own prepares that too).
    public func prepare(_ matrices: [WeightMatrix]) {
        fallback.prepare(matrices)
    }
    public func forEachRowRange(_ count: Int, _ body: (Range<Int>) -> Void) {
        fallback.forEachRowRange(count, body)
    }
}
