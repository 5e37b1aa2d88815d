import LockstepCore
import LockstepModel

/// An output of an op: a tensor field (compared byte for byte, NaN matching any NaN) or a plain
/// JSON value such as a token id (compared for equality).
enum OpOutput {
    case tensor(TensorField)
    case value(JSON)

    var json: JSON {
        switch self {
        case .tensor(let t): return t.json(values: t.readableValues)
        case .value(let v): return v
        }
    }
}

/// Reads the fields of one test (group parameters and inputs) with clear errors.
struct OpArguments {
    let group: VectorGroup
    let inputs: JSON

    func param(_ name: String) throws(VectorError) -> JSON {
        guard let v = group[name] else { throw VectorError("group parameter '\(name)' is missing") }
        return v
    }
    func int(_ name: String) throws(VectorError) -> Int {
        guard let v = try param(name).int else { throw VectorError("group parameter '\(name)' is not an integer") }
        return v
    }
    func paramTensor(_ name: String) throws(VectorError) -> TensorField { try TensorField(try param(name), name: name) }
    func tensor(_ name: String, _ type: ElementType, count: Int? = nil) throws(VectorError) -> TensorField {
        let t = try TensorField(inputs[name], name: name)
        guard t.type == type else { throw VectorError("input '\(name)' has type \(t.type.rawValue), expected \(type.rawValue)") }
        if let count, TensorField.elementCount(type: t.type, shape: t.shape) != count {
            throw VectorError("input '\(name)' has shape \(t.shape), expected \(count) elements")
        }
        return t
    }
    func ints(_ name: String) throws(VectorError) -> [Int] {
        guard let a = inputs[name]?.array else { throw VectorError("input '\(name)' is not an array") }
        let v = a.compactMap(\.int)
        guard v.count == a.count else { throw VectorError("input '\(name)' holds non-integers") }
        return v
    }
}

/// The kinds of op test, what each needs, and how to compute its outputs. The generator computes
/// expected outputs with `compute(…, backend: ReferenceBackend())`; the runner recomputes them
/// with the backend under test (or the library, for scalar contract functions) and compares.
enum OpTypes {
    /// The backend op a group type exercises, or nil when it checks a library function.
    static func backendOp(_ group: VectorGroup) -> BackendOp? {
        switch group.type {
        case "QuantizeTest": return .quantize
        case "MatmulTest":
            guard let f = group["format"]?.string, let format = WeightFormat(rawValue: f) else { return nil }
            return .matmul(format)
        case "AttentionTest": return .attention
        case "RmsNormTest": return .rmsNorm
        case "RopeTest": return .rope
        case "SiluMulTest": return .siluMul
        case "AddTest": return .add
        default: return nil
        }
    }

    static let knownTypes: Set<String> = ["QuantizeTest", "MatmulTest", "AttentionTest", "RmsNormTest", "RopeTest",
                                          "SiluMulTest", "AddTest", "RopeAnglesTest", "SoftmaxTest", "OrderedSumTest",
                                          "AccumulatorTest", "Exp32Test", "Exp64Test", "Log64Test", "SinCos64Test",
                                          "Q8ConvertTest", "RandomTest", "GreedyTest", "StochasticTest"]

    /// Computes the outputs of one test on `backend` (library tests ignore it).
    static func compute(_ group: VectorGroup, inputs: JSON, backend: any Backend) throws(VectorError) -> [(String, OpOutput)] {
        let a = OpArguments(group: group, inputs: inputs)
        switch group.type {
        case "QuantizeTest":
            let rows = try a.int("rows"), columns = try a.int("columns")
            let x = try a.tensor("x", .f32, count: rows * columns).floats
            let q = x.withUnsafeBufferPointer { backend.quantize($0, rows: rows, columns: columns) }
            let b = q.blocksPerRow
            return [("q", .tensor(.i16(q.values, shape: [rows, b, 32]))),
                    ("exponent", .tensor(.i32(q.exponents, shape: [rows, b]))),
                    ("sum", .tensor(.i32(q.sums, shape: [rows, b])))]

        case "MatmulTest":
            guard let f = try a.param("format").string, let format = WeightFormat(rawValue: f) else {
                throw VectorError("unknown weight format")
            }
            let n = try a.int("rows"), k = try a.int("columns"), t = try a.int("tokens")
            guard k % 32 == 0, k > 0, n > 0, t > 0 else { throw VectorError("bad matmul shape") }
            let w = try TensorField(inputs["w"], name: "w")
            guard w.type.weightFormat == format, w.shape == [n, k] else { throw VectorError("input 'w' does not match the group's format and shape") }
            let x = try a.tensor("x", .f32, count: t * k).floats
            let q = x.withUnsafeBufferPointer { QuantizedActivations($0, rows: t, columns: k) }
            var y = [Float](repeating: .nan, count: t * n)
            w.bytes.withUnsafeBytes { raw in
                let m = WeightMatrix(format: format, rows: n, columns: k, bytes: raw, owner: nil)
                y.withUnsafeMutableBufferPointer { backend.matmul(m, q, into: $0) }
            }
            return [("y", .tensor(.f32(y, shape: [t, n])))]

        case "AttentionTest":
            return try attention(a, backend: backend)

        case "RmsNormTest":
            let rows = try a.int("rows"), columns = try a.int("columns")
            let x = try a.tensor("x", .f32, count: rows * columns).floats
            let g = try a.tensor("weight", .f32, count: columns).floats
            let eps = try a.tensor("epsilon", .f32, count: 1).floats[0]
            var y = [Float](repeating: .nan, count: rows * columns)
            x.withUnsafeBufferPointer { xp in
                g.withUnsafeBufferPointer { gp in
                    y.withUnsafeMutableBufferPointer { backend.rmsNorm(xp, weight: gp, rows: rows, epsilon: eps, into: $0) }
                }
            }
            return [("y", .tensor(.f32(y, shape: [rows, columns])))]

        case "RopeTest":
            let rows = try a.int("rows"), heads = try a.int("heads"), hd = try a.int("headDim"), nRot = try a.int("rotatedDimensions")
            let base = try a.paramTensor("base").floats.first ?? .nan
            guard nRot >= 2, nRot % 2 == 0, nRot <= hd, base > 1, base.isFinite else { throw VectorError("bad RoPE parameters") }
            let positions = try a.ints("positions")
            guard positions.count == rows, positions.allSatisfy({ $0 >= 0 && $0 <= RopeAngles.maxPosition }) else {
                throw VectorError("positions must be \(rows) integers in 0...\(RopeAngles.maxPosition)")
            }
            var x = try a.tensor("x", .f32, count: rows * heads * hd).floats
            let angles = RopeAngles(rotatedDimensions: nRot, base: base)
            x.withUnsafeMutableBufferPointer { backend.rope($0, rows: rows, heads: heads, headDim: hd, positions: positions, angles: angles) }
            return [("y", .tensor(.f32(x, shape: [rows, heads * hd])))]

        case "SiluMulTest":
            let gate = try a.tensor("gate", .f32).floats
            let up = try a.tensor("up", .f32, count: gate.count).floats
            var out = [Float](repeating: .nan, count: gate.count)
            gate.withUnsafeBufferPointer { g in
                up.withUnsafeBufferPointer { u in out.withUnsafeMutableBufferPointer { backend.siluMul(gate: g, up: u, into: $0) } }
            }
            return [("out", .tensor(.f32(out)))]

        case "AddTest":
            var x = try a.tensor("x", .f32).floats
            let y = try a.tensor("y", .f32, count: x.count).floats
            y.withUnsafeBufferPointer { yp in x.withUnsafeMutableBufferPointer { backend.add($0, yp) } }
            return [("sum", .tensor(.f32(x)))]

        case "RopeAnglesTest":
            let nRot = try a.int("rotatedDimensions")
            let base = try a.paramTensor("base").floats.first ?? .nan
            guard nRot >= 2, nRot % 2 == 0, base > 1, base.isFinite else { throw VectorError("bad RoPE parameters") }
            let positions = try a.ints("positions")
            guard positions.allSatisfy({ $0 >= 0 && $0 <= RopeAngles.maxPosition }) else { throw VectorError("position out of range") }
            let angles = RopeAngles(rotatedDimensions: nRot, base: base)
            let pairs = angles.pairs
            var cos = [Float](repeating: 0, count: positions.count * pairs), sin = cos
            for (i, p) in positions.enumerated() {
                cos.withUnsafeMutableBufferPointer { c in
                    sin.withUnsafeMutableBufferPointer { s in
                        angles.angles(position: p, cos: c.baseAddress! + i * pairs, sin: s.baseAddress! + i * pairs)
                    }
                }
            }
            return [("inverseFrequencies", .tensor(.f64(angles.inverseFrequencies))),
                    ("cos", .tensor(.f32(cos, shape: [positions.count, pairs]))),
                    ("sin", .tensor(.f32(sin, shape: [positions.count, pairs])))]

        case "SoftmaxTest":
            var x = try a.tensor("x", .f32).floats
            guard !x.isEmpty else { throw VectorError("softmax of nothing") }
            x.withUnsafeMutableBufferPointer { LightOps.softmax($0) }
            return [("p", .tensor(.f32(x)))]

        case "OrderedSumTest":
            let x = try a.tensor("x", .f32).floats
            let s = x.withUnsafeBufferPointer { ContractMath.orderedSum($0) }
            return [("sum", .tensor(.f32([s], shape: [])))]

        case "AccumulatorTest":
            let values = try a.tensor("values", .i64).int64s
            let exps = try a.tensor("exponents", .i32, count: values.count).int32s
            for (v, e) in zip(values, exps) {
                guard v.magnitude < 1 << 62, e >= Int32(ExactAccumulator.minExponent), e <= Int32(ExactAccumulator.maxTermExponent) else {
                    throw VectorError("term \(v)·2^\(e) is outside the accumulator's range")
                }
            }
            // In file order, in reverse order, and as two halves merged: all must agree.
            var forward = ExactAccumulator(), backward = ExactAccumulator(), first = ExactAccumulator(), second = ExactAccumulator()
            for i in values.indices { forward.add(values[i], exponent: Int(exps[i])) }
            for i in values.indices.reversed() { backward.add(values[i], exponent: Int(exps[i])) }
            for i in values.indices { if i % 2 == 0 { first.add(values[i], exponent: Int(exps[i])) } else { second.add(values[i], exponent: Int(exps[i])) } }
            first.add(second)
            let r = forward.rounded()
            guard r.bitPattern == backward.rounded().bitPattern, r.bitPattern == first.rounded().bitPattern else {
                throw VectorError("the accumulator's result depends on the order of the terms")
            }
            return [("result", .tensor(.f32([r], shape: [])))]

        case "Exp32Test":
            let x = try a.tensor("x", .f32).floats
            return [("y", .tensor(.f32(x.map { ContractMath.exp($0) })))]
        case "Exp64Test":
            let x = try a.tensor("x", .f64).doubles
            return [("y", .tensor(.f64(x.map { ContractMath.exp($0) })))]
        case "Log64Test":
            let x = try a.tensor("x", .f64).doubles
            return [("y", .tensor(.f64(x.map { ContractMath.log($0) })))]
        case "SinCos64Test":
            let x = try a.tensor("x", .f64).doubles
            guard x.allSatisfy({ $0.magnitude <= 1_048_576 }) else { throw VectorError("angle outside the sinCos domain") }
            let r = x.map { ContractMath.sinCos($0) }
            return [("sin", .tensor(.f64(r.map(\.sin)))), ("cos", .tensor(.f64(r.map(\.cos))))]

        case "Q8ConvertTest":
            let x = try a.tensor("x", .f32).floats
            guard x.count % 32 == 0, x.allSatisfy(\.isFinite) else { throw VectorError("Q8_0 conversion needs finite values in blocks of 32") }
            var bytes: [UInt8] = []
            for start in stride(from: 0, to: x.count, by: 32) {
                let (d, q) = Q8Quantizer.quantize(Array(x[start ..< start + 32]))
                bytes += LittleEndian.bytes([d]) + q.map { UInt8(bitPattern: $0) }
            }
            return [("blocks", .tensor(TensorField(type: .q8_0, shape: [1, x.count], bytes: bytes)))]

        case "RandomTest":
            let seed = try a.tensor("seed", .u64, count: 1).uint64s[0]
            let counters = try a.tensor("counters", .u64).uint64s
            return [("outputs", .tensor(.u64(counters.map { Sampler.random(seed: seed, counter: $0) })))]

        case "GreedyTest":
            let logits = try a.tensor("logits", .f32).floats
            guard !logits.isEmpty else { throw VectorError("no logits") }
            return [("token", .value(.int(logits.withUnsafeBufferPointer { Sampler.argmax($0) })))]

        case "StochasticTest":
            let logits = try a.tensor("logits", .f32).floats
            guard !logits.isEmpty else { throw VectorError("no logits") }
            let t = try a.tensor("temperature", .f32, count: 1).floats[0]
            guard t.isFinite, t >= 0 else { throw VectorError("temperature must be finite and ≥ 0") }
            let seed = try a.tensor("seed", .u64, count: 1).uint64s[0]
            let counter = try a.tensor("counter", .u64, count: 1).uint64s[0]
            guard counter <= UInt64(Int.max) else { throw VectorError("counter too large") }
            let token = logits.withUnsafeBufferPointer {
                Sampler.sample($0, settings: SamplerSettings(temperature: t, seed: seed), index: Int(counter))
            }
            return [("token", .value(.int(token))),
                    ("u", .tensor(.u64([Sampler.random(seed: seed, counter: counter)], shape: [])))]

        default:
            throw VectorError("unknown test type '\(group.type)'")
        }
    }

    /// Attention through the backend; the diagnostic scores and probabilities from the library.
    private static func attention(_ a: OpArguments, backend: any Backend) throws(VectorError) -> [(String, OpOutput)] {
        let heads = try a.int("heads"), kvHeads = try a.int("kvHeads"), hd = try a.int("headDim")
        guard heads > 0, kvHeads > 0, heads % kvHeads == 0, hd > 0 else { throw VectorError("bad attention shape") }
        let shape = AttentionShape(heads: heads, kvHeads: kvHeads, headDim: hd)
        let keys = try a.tensor("keys", .f32).floats
        let kvWidth = kvHeads * hd
        guard keys.count % kvWidth == 0, keys.count > 0 else { throw VectorError("keys are not whole rows of \(kvWidth)") }
        let length = keys.count / kvWidth
        let values = try a.tensor("values", .f32, count: keys.count).floats
        let positions = try a.ints("positions")
        guard !positions.isEmpty, positions.allSatisfy({ $0 >= 0 && $0 < length }) else {
            throw VectorError("positions must lie in 0..<\(length)")
        }
        let rows = positions.count
        let queries = try a.tensor("queries", .f32, count: rows * heads * hd).floats
        let cache = KVCache(layers: 1, shape: shape)
        keys.withUnsafeBufferPointer { k in values.withUnsafeBufferPointer { v in cache.append(layer: 0, keys: k, values: v, rows: length) } }
        var out = [Float](repeating: .nan, count: rows * heads * hd)
        queries.withUnsafeBufferPointer { q in
            out.withUnsafeMutableBufferPointer { backend.attention(queries: q, rows: rows, positions: positions, cache: cache, layer: 0, into: $0) }
        }
        // Diagnostics: scaled scores and probabilities per (row, head, position ≤ pos[row]).
        var scores: [Float] = [], probabilities: [Float] = []
        let bph = shape.blocksPerHead
        let cachedKeys = cache.keys[0], keyExps = cache.keyExponents[0]
        for t in 0..<rows {
            for h in 0..<heads {
                let g = h / shape.groupSize
                let q = queries.withUnsafeBufferPointer { QuantizedActivations(UnsafeBufferPointer(rebasing: $0[(t * heads + h) * hd ..< (t * heads + h + 1) * hd]), rows: 1, columns: hd) }
                var s = [Float](repeating: 0, count: positions[t] + 1)
                for p in s.indices {
                    var acc = ExactAccumulator()
                    for b in 0..<bph {
                        let kb = (p * kvHeads + g) * bph + b
                        q.values.withUnsafeBufferPointer { qv in
                            cachedKeys.withUnsafeBufferPointer { kv in
                                ExactDot.accumulateBlocks(qv.baseAddress! + b * 32, q.exponents[b], kv.baseAddress! + kb * 32, keyExps[kb], into: &acc)
                            }
                        }
                    }
                    s[p] = acc.rounded() * shape.scale
                }
                scores += s
                s.withUnsafeMutableBufferPointer { LightOps.softmax($0) }
                probabilities += s
            }
        }
        return [("output", .tensor(.f32(out, shape: [rows, heads * hd]))),
                ("scores", .tensor(.f32(scores))),
                ("probabilities", .tensor(.f32(probabilities)))]
    }
}
