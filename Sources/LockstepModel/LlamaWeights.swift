import LockstepCore
import LockstepGGUF

/// Owned bytes that back a weight matrix converted at load (F32/F16/BF16 → Q8_0).
final class OwnedBytes: @unchecked Sendable {
    let pointer: UnsafeMutableRawBufferPointer
    init(count: Int) { pointer = .allocate(byteCount: max(count, 1), alignment: 64) }
    deinit { pointer.deallocate() }
}

/// The token embedding table: row `t` (a token id) dequantised to binary32 on demand by the
/// contract's rule (SPEC §2.5): Q8_0 `d·q`, Q4_0 `d·(q−8)`, Q4_1 `d·q + m` (one rounding),
/// F16/BF16/F32 exactly.
public struct EmbeddingTable: @unchecked Sendable {
    /// Tensor type of the table.
    public let type: GGMLType
    /// Elements per row (`dim`).
    public let width: Int
    /// Rows (vocabulary size).
    public let rows: Int
    let bytes: UnsafeRawBufferPointer
    let owner: AnyObject

    /// Writes row `token` (in 0..<rows) as `width` binary32 values.
    public func row(_ token: Int, into out: UnsafeMutablePointer<Float>) {
        precondition(token >= 0 && token < rows, "EmbeddingTable: token \(token) out of range")
        let rowBytes = type.byteCount(elements: width)!
        let base = bytes.baseAddress! + token * rowBytes
        switch type {
        case .f32:
            for i in 0..<width { out[i] = (base + 4 * i).loadUnaligned(as: Float.self) }
        case .f16:
            for i in 0..<width { out[i] = Float(Float16(bitPattern: (base + 2 * i).loadUnaligned(as: UInt16.self))) }
        case .bf16:
            for i in 0..<width { out[i] = Float(bitPattern: UInt32((base + 2 * i).loadUnaligned(as: UInt16.self)) << 16) }
        case .q8_0, .q4_0, .q4_1:
            let blockBytes = type.blockBytes
            for b in 0..<width / 32 {
                let blk = base + b * blockBytes
                let d = Float(Float16(bitPattern: blk.loadUnaligned(as: UInt16.self)))
                for j in 0..<32 {
                    let v: Float
                    switch type {
                    case .q8_0:
                        v = d * Float((blk + 2 + j).load(as: Int8.self))
                    case .q4_0:
                        let byte = (blk + 2 + j % 16).load(as: UInt8.self)
                        v = d * Float(Int32(j < 16 ? byte & 0xF : byte >> 4) - 8)
                    default:
                        let m = Float(Float16(bitPattern: (blk + 2).loadUnaligned(as: UInt16.self)))
                        let byte = (blk + 4 + j % 16).load(as: UInt8.self)
                        v = d * Float(j < 16 ? byte & 0xF : byte >> 4) + m
                    }
                    out[b * 32 + j] = v
                }
            }
        }
    }
}

extension EmbeddingTable {
    /// Rejects a table with a non-finite element or block scale (every row must dequantise to
    /// finite values). A quantised row is finite exactly when its blocks' fp16 scales (and Q4_1
    /// offsets) are — `|d·q| ≤ 65504·128` and `|d·n + m| ≤ 65504·16` stay far inside binary32 —
    /// so only those are read, and a row with a non-finite one is decoded to name the element.
    func checkFinite(name: String, path: String) throws(ModelError) {
        var row = [Float](repeating: 0, count: width)
        func check(_ t: Int) throws(ModelError) {
            row.withUnsafeMutableBufferPointer { self.row(t, into: $0.baseAddress!) }
            if let j = row.firstIndex(where: { !$0.isFinite }) {
                throw ModelError(path: path, "tensor '\(name)': row \(t) element \(j) is \(row[j]) (not finite)")
            }
        }
        guard type == .q8_0 || type == .q4_0 || type == .q4_1 else {
            for t in 0..<rows { try check(t) }
            return
        }
        let rowBytes = type.byteCount(elements: width)!, blockBytes = type.blockBytes, halves = type == .q4_1 ? 2 : 1
        for t in 0..<rows {
            let base = bytes.baseAddress! + t * rowBytes
            var finite = true
            for b in 0..<width / 32 {
                for k in 0..<halves where (base + b * blockBytes + 2 * k).loadUnaligned(as: UInt16.self) & 0x7C00 == 0x7C00 { finite = false }
            }
            if !finite { try check(t) }
        }
    }
}

/// Weights of one transformer block.
public struct LayerWeights: Sendable {
    /// `dim` RMSNorm weights before attention.
    public let attentionNorm: [Float]
    /// `[heads·headDim × dim]` query projection.
    public let query: WeightMatrix
    /// `[kvHeads·headDim × dim]` key projection.
    public let key: WeightMatrix
    /// `[kvHeads·headDim × dim]` value projection.
    public let value: WeightMatrix
    /// `[dim × heads·headDim]` attention output projection.
    public let attentionOutput: WeightMatrix
    /// `dim` RMSNorm weights before the FFN.
    public let ffnNorm: [Float]
    /// `[ffnDim × dim]` gate projection.
    public let gate: WeightMatrix
    /// `[ffnDim × dim]` up projection.
    public let up: WeightMatrix
    /// `[dim × ffnDim]` down projection.
    public let down: WeightMatrix
}

/// All weights of a Llama model, bound to the contract's formats.
public struct LlamaWeights: Sendable {
    /// Token embeddings `[vocab × dim]`.
    public let embedding: EmbeddingTable
    /// Transformer blocks.
    public let layers: [LayerWeights]
    /// `dim` final RMSNorm weights.
    public let outputNorm: [Float]
    /// `[vocab × dim]` output head (tied to `token_embd` when `output.weight` is absent).
    public let output: WeightMatrix

    /// Every weight matrix the forward pass multiplies by: each layer's seven, then the output head.
    public var matrices: [WeightMatrix] {
        layers.flatMap { [$0.query, $0.key, $0.value, $0.attentionOutput, $0.gate, $0.up, $0.down] } + [output]
    }

    /// Binds every tensor of `file` for `config`, checking names, shapes and types, converting
    /// F32/F16/BF16 matrices to Q8_0 by the contract's rule, and rejecting non-finite block
    /// scales.
    public init(file: GGUFFile, config c: LlamaConfig) throws(ModelError) {
        let path = file.path
        func tensor(_ name: String, _ dims: [Int]) throws(ModelError) -> GGUFTensorInfo {
            guard let t = file.tensor(named: name) else { throw ModelError(path: path, "tensor '\(name)' is missing") }
            guard t.dimensions == dims else {
                throw ModelError(path: path, "tensor '\(name)': shape \(t.dimensions), expected \(dims)")
            }
            return t
        }
        func vector(_ name: String, _ n: Int) throws(ModelError) -> [Float] {
            let t = try tensor(name, [n])
            let raw = file.data(for: t)
            var out = [Float](repeating: 0, count: n)
            switch t.type {
            case .f32: for i in 0..<n { out[i] = raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
            case .f16: for i in 0..<n { out[i] = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .bf16: for i in 0..<n { out[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
            default: throw ModelError(path: path, "tensor '\(name)': type \(t.type.name) is not supported for a vector (F32, F16, BF16)")
            }
            if let bad = out.firstIndex(where: { !$0.isFinite }) {
                throw ModelError(path: path, "tensor '\(name)': element \(bad) is \(out[bad]) (not finite)")
            }
            return out
        }
        func matrix(_ name: String, rows: Int, columns: Int) throws(ModelError) -> WeightMatrix {
            try Self.bindMatrix(file: file, info: tensor(name, [columns, rows]), rows: rows, columns: columns)
        }
        let q = c.heads * c.headDim, kv = c.kvHeads * c.headDim
        let embdInfo = try tensor("token_embd.weight", [c.dim, c.vocabularySize])
        guard embdInfo.type.blockElements == 1 || c.dim % 32 == 0 else {
            throw ModelError(path: path, "tensor 'token_embd.weight': dim \(c.dim) is not a multiple of 32")
        }
        embedding = EmbeddingTable(type: embdInfo.type, width: c.dim, rows: c.vocabularySize,
                                   bytes: file.data(for: embdInfo), owner: file)
        try embedding.checkFinite(name: embdInfo.name, path: path)
        var layers: [LayerWeights] = []
        for l in 0..<c.layers {
            let p = "blk.\(l)."
            layers.append(LayerWeights(
                attentionNorm: try vector(p + "attn_norm.weight", c.dim),
                query: try matrix(p + "attn_q.weight", rows: q, columns: c.dim),
                key: try matrix(p + "attn_k.weight", rows: kv, columns: c.dim),
                value: try matrix(p + "attn_v.weight", rows: kv, columns: c.dim),
                attentionOutput: try matrix(p + "attn_output.weight", rows: c.dim, columns: q),
                ffnNorm: try vector(p + "ffn_norm.weight", c.dim),
                gate: try matrix(p + "ffn_gate.weight", rows: c.ffnDim, columns: c.dim),
                up: try matrix(p + "ffn_up.weight", rows: c.ffnDim, columns: c.dim),
                down: try matrix(p + "ffn_down.weight", rows: c.dim, columns: c.ffnDim)))
        }
        self.layers = layers
        outputNorm = try vector("output_norm.weight", c.dim)
        if file.tensor(named: "output.weight") != nil {
            output = try matrix("output.weight", rows: c.vocabularySize, columns: c.dim)
        } else {
            output = try Self.bindMatrix(file: file, info: embdInfo, rows: c.vocabularySize, columns: c.dim)
        }
    }

    /// Binds a `[columns, rows]` GGUF tensor as a contract weight matrix.
    static func bindMatrix(file: GGUFFile, info: GGUFTensorInfo, rows: Int, columns: Int) throws(ModelError) -> WeightMatrix {
        let raw = file.data(for: info)
        let format: WeightFormat
        switch info.type {
        case .q8_0: format = .q8_0
        case .q4_0: format = .q4_0
        case .q4_1: format = .q4_1
        case .f32, .f16, .bf16:
            return try convertToQ8(raw, type: info.type, rows: rows, columns: columns, name: info.name, path: file.path)
        }
        let w = WeightMatrix(format: format, rows: rows, columns: columns, bytes: raw, owner: file)
        try checkScales(w, name: info.name, path: file.path)
        return w
    }

    /// Rejects a matrix whose fp16 block scale (or Q4_1 offset) is infinite or NaN.
    static func checkScales(_ w: WeightMatrix, name: String, path: String) throws(ModelError) {
        let blocks = w.rows * w.blocksPerRow
        let halves = w.format == .q4_1 ? 2 : 1
        for b in 0..<blocks {
            for h in 0..<halves {
                let bits = w.bytes.loadUnaligned(fromByteOffset: b * w.format.blockBytes + 2 * h, as: UInt16.self)
                if bits & 0x7C00 == 0x7C00 {
                    throw ModelError(path: path, "tensor '\(name)': block \(b) has a non-finite fp16 \(h == 0 ? "scale" : "offset") (0x\(String(bits, radix: 16)))")
                }
            }
        }
    }

    /// Converts an F32/F16/BF16 `[columns, rows]` matrix to Q8_0 by the contract's rule
    /// (SPEC §2.4): rows zero-padded to a multiple of 32; per block `amax = max |w|`,
    /// `d = fp16(amax / 127)`, `q = clamp(roundHalfEven(w / d), −127, 127)` (q = 0 when d = 0).
    static func convertToQ8(_ raw: UnsafeRawBufferPointer, type: GGMLType, rows: Int, columns: Int, name: String,
                            path: String) throws(ModelError) -> WeightMatrix {
        let padded = (columns + 31) / 32 * 32
        let storage = OwnedBytes(count: rows * padded / 32 * 34)
        let out = storage.pointer.baseAddress!
        var block = [Float](repeating: 0, count: 32)
        for r in 0..<rows {
            for b in 0..<padded / 32 {
                for j in 0..<32 {
                    let c = b * 32 + j
                    if c >= columns { block[j] = 0; continue }
                    let i = r * columns + c
                    switch type {
                    case .f32: block[j] = raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self)
                    case .f16: block[j] = Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
                    default: block[j] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
                    }
                    if !block[j].isFinite {
                        throw ModelError(path: path, "tensor '\(name)': element (\(r), \(c)) is \(block[j]) (not finite)")
                    }
                }
                let dst = out + (r * padded / 32 + b) * 34
                let (scale, qs) = Q8Quantizer.quantize(block)
                dst.storeBytes(of: scale, as: UInt16.self)
                for j in 0..<32 { (dst + 2 + j).storeBytes(of: qs[j], as: Int8.self) }
            }
        }
        let w = WeightMatrix(format: .q8_0, rows: rows, columns: padded, bytes: UnsafeRawBufferPointer(storage.pointer), owner: storage)
        try checkScales(w, name: name, path: path)
        return w
    }
}

/// The contract's rule for bringing binary32 weights into Q8_0 (SPEC §2.4).
public enum Q8Quantizer {
    /// Quantises one block of 32 finite values: `d = fp16(amax / 127)` (binary32 division,
    /// then round to fp16), `q[j] = clamp(roundHalfEven(w[j] / Float(d)), −127, 127)`.
    /// - Returns: the fp16 bit pattern of `d` and the 32 integers.
    public static func quantize(_ w: [Float]) -> (scale: UInt16, values: [Int8]) {
        precondition(w.count == 32)
        var amax: Float = 0
        for v in w { amax = max(amax, v.magnitude) }
        let d = Float16(amax / 127)
        let df = Float(d)
        var q = [Int8](repeating: 0, count: 32)
        if df != 0 {
            for j in 0..<32 {
                let t = (w[j] / df).rounded(.toNearestOrEven)
                q[j] = Int8(max(-127, min(127, t)))
            }
        }
        return (d.bitPattern, q)
    }
}
