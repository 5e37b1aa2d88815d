/// The reference backend: every op in plain Swift, single-threaded, written for obviousness
/// rather than speed — the oracle for every other backend.
public final class ReferenceBackend: Backend {
    public init() {}
    public var name: String { "reference" }
    public func supports(_ op: BackendOp) -> Bool { true }

    /// See `Backend.quantize`.
    public func quantize(_ x: UnsafeBufferPointer<Float>, rows: Int, columns: Int) -> QuantizedActivations {
        QuantizedActivations(x, rows: rows, columns: columns)
    }

    /// See `Backend.matmul`.
    public func matmul(_ w: WeightMatrix, _ x: QuantizedActivations, into y: UnsafeMutableBufferPointer<Float>) {
        precondition(y.count >= x.rows * w.rows, "matmul: output buffer too small")
        for t in 0..<x.rows {
            for r in 0..<w.rows {
                var acc = ExactAccumulator()
                ExactDot.accumulateRow(w, row: r, x, xRow: t, into: &acc)
                y[t * w.rows + r] = acc.rounded()
            }
        }
    }

    /// See `Backend.rmsNorm`.
    public func rmsNorm(_ x: UnsafeBufferPointer<Float>, weight: UnsafeBufferPointer<Float>, rows: Int, epsilon: Float,
                               into y: UnsafeMutableBufferPointer<Float>) {
        let n = weight.count
        for t in 0..<rows {
            LightOps.rmsNorm(UnsafeBufferPointer(rebasing: x[t * n ..< (t + 1) * n]), weight: weight, epsilon: epsilon,
                             into: UnsafeMutableBufferPointer(rebasing: y[t * n ..< (t + 1) * n]))
        }
    }

    /// See `Backend.rope`.
    public func rope(_ x: UnsafeMutableBufferPointer<Float>, rows: Int, heads: Int, headDim: Int, positions: [Int],
                            angles: RopeAngles) {
        precondition(2 * angles.pairs <= headDim && positions.count >= rows)
        var cos = [Float](repeating: 0, count: angles.pairs)
        var sin = [Float](repeating: 0, count: angles.pairs)
        for t in 0..<rows {
            angles.angles(position: positions[t], cos: &cos, sin: &sin)
            for h in 0..<heads {
                LightOps.rope(x.baseAddress! + (t * heads + h) * headDim, cos: cos, sin: sin, pairs: angles.pairs)
            }
        }
    }

    /// See `Backend.attention`.
    public func attention(queries: UnsafeBufferPointer<Float>, rows: Int, positions: [Int], cache: KVCache, layer: Int,
                                 into out: UnsafeMutableBufferPointer<Float>) {
        let shape = cache.shape
        let hd = shape.headDim, bph = shape.blocksPerHead
        let keys = cache.keys[layer], keyExps = cache.keyExponents[layer]
        let values = cache.values[layer], valueExps = cache.valueExponents[layer]
        for t in 0..<rows {
            let n = positions[t] + 1
            precondition(n <= cache.length(layer: layer), "attention: position \(positions[t]) not in the cache")
            for h in 0..<shape.heads {
                let kvh = h / shape.groupSize
                let qOffset = (t * shape.heads + h) * hd
                let q = QuantizedActivations(UnsafeBufferPointer(rebasing: queries[qOffset ..< qOffset + hd]), rows: 1, columns: hd)
                // Scores: exact q·k for every visible position, then the scale.
                var scores = [Float](repeating: 0, count: n)
                for j in 0..<n {
                    var acc = ExactAccumulator()
                    for b in 0..<bph {
                        let kb = (j * shape.kvHeads + kvh) * bph + b
                        q.values.withUnsafeBufferPointer { qv in
                            keys.withUnsafeBufferPointer { kv in
                                ExactDot.accumulateBlocks(qv.baseAddress! + b * 32, q.exponents[b],
                                                          kv.baseAddress! + kb * 32, keyExps[kb], into: &acc)
                            }
                        }
                    }
                    scores[j] = acc.rounded() * shape.scale
                }
                scores.withUnsafeMutableBufferPointer { LightOps.softmax($0) }
                // Exact P·V with P quantised along positions.
                let p = scores.withUnsafeBufferPointer { QuantizedActivations($0, rows: 1, columns: n) }
                for d in 0..<hd {
                    var acc = ExactAccumulator()
                    for j in 0..<n {
                        let vb = (j * shape.kvHeads + kvh) * bph + d / 32
                        let product = Int64(p.values[j]) * Int64(values[vb * 32 + d % 32])
                        acc.add(product, exponent: Int(p.exponents[j / 32] + valueExps[vb]))
                    }
                    out[qOffset + d] = acc.rounded()
                }
            }
        }
    }

    /// See `Backend.siluMul`.
    public func siluMul(gate: UnsafeBufferPointer<Float>, up: UnsafeBufferPointer<Float>, into out: UnsafeMutableBufferPointer<Float>) {
        for i in 0..<gate.count { out[i] = LightOps.siluMul(gate[i], up[i]) }
    }

    /// See `Backend.add`.
    public func add(_ x: UnsafeMutableBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>) {
        for i in 0..<x.count { x[i] += y[i] }
    }
}
