/// The attention shape of a model: query heads, key/value heads (grouped-query attention) and
/// the head dimension.
public struct AttentionShape: Sendable, Equatable {
    /// Query heads.
    public let heads: Int
    /// Key/value heads; `heads` is a multiple of it.
    public let kvHeads: Int
    /// Elements per head vector.
    public let headDim: Int

    public init(heads: Int, kvHeads: Int, headDim: Int) {
        precondition(heads > 0 && kvHeads > 0 && heads % kvHeads == 0 && headDim > 0)
        self.heads = heads
        self.kvHeads = kvHeads
        self.headDim = headDim
    }

    /// Query heads per key/value head.
    public var groupSize: Int { heads / kvHeads }
    /// Quantisation blocks per head vector: ⌈headDim / 32⌉ (the last one zero-padded).
    public var blocksPerHead: Int { (headDim + 31) / 32 }
    /// The attention scale `1 / sqrt(headDim)` in binary32 (sqrt then division).
    public var scale: Float { 1 / Float(headDim).squareRoot() }
}

/// The key/value cache: for every layer and position, each key/value head vector quantised by
/// the contract's rule (blocks of 32 along the head dimension), ready for the exact Q·Kᵀ and
/// P·V products.
///
/// Layout per layer: position-major, then head, then block: `keys[layer]` holds
/// `positions × kvHeads × blocksPerHead × 32` integers, `keyExponents[layer]`
/// `positions × kvHeads × blocksPerHead` exponents; the same for values.
public final class KVCache: @unchecked Sendable {
    /// Number of layers.
    public let layers: Int
    /// Attention shape the cache was made for.
    public let shape: AttentionShape
    /// Quantised keys per layer.
    public private(set) var keys: [[Int16]]
    /// Key block exponents per layer.
    public private(set) var keyExponents: [[Int32]]
    /// Quantised values per layer.
    public private(set) var values: [[Int16]]
    /// Value block exponents per layer.
    public private(set) var valueExponents: [[Int32]]

    public init(layers: Int, shape: AttentionShape) {
        self.layers = layers
        self.shape = shape
        keys = Array(repeating: [], count: layers)
        keyExponents = Array(repeating: [], count: layers)
        values = Array(repeating: [], count: layers)
        valueExponents = Array(repeating: [], count: layers)
    }

    /// Blocks stored per position (all key/value heads).
    public var blocksPerPosition: Int { shape.kvHeads * shape.blocksPerHead }

    /// Positions stored in `layer`.
    public func length(layer: Int) -> Int { keyExponents[layer].count / blocksPerPosition }

    /// Quantises and appends `rows` positions of keys and values to `layer`.
    /// - Parameters: `k`, `v`: row-major `rows × (kvHeads · headDim)` binary32.
    public func append(layer: Int, keys k: UnsafeBufferPointer<Float>, values v: UnsafeBufferPointer<Float>, rows: Int) {
        let width = shape.kvHeads * shape.headDim
        precondition(k.count >= rows * width && v.count >= rows * width)
        append(layer: layer, keys: QuantizedActivations(k, rows: rows * shape.kvHeads, columns: shape.headDim),
               values: QuantizedActivations(v, rows: rows * shape.kvHeads, columns: shape.headDim))
    }

    /// Appends positions whose keys and values are already quantised by the contract's rule:
    /// one row per key/value head vector (`positions × kvHeads` rows of `headDim` columns, in
    /// position-major order), as `Backend.quantize` gives them from the `positions × (kvHeads ·
    /// headDim)` float rows.
    public func append(layer: Int, keys k: QuantizedActivations, values v: QuantizedActivations) {
        precondition(k.columns == shape.headDim && v.columns == shape.headDim && k.rows == v.rows && k.rows % shape.kvHeads == 0,
                     "KVCache.append: \(k.rows) × \(k.columns) keys and \(v.rows) × \(v.columns) values for \(shape.kvHeads) heads of \(shape.headDim)")
        keys[layer].append(contentsOf: k.values)
        keyExponents[layer].append(contentsOf: k.exponents)
        values[layer].append(contentsOf: v.values)
        valueExponents[layer].append(contentsOf: v.exponents)
    }

    /// Drops every position at or after `length` in every layer.
    public func truncate(to length: Int) {
        for l in 0..<layers where self.length(layer: l) > length {
            let blocks = length * blocksPerPosition
            keys[l].removeSubrange((blocks * 32)...)
            values[l].removeSubrange((blocks * 32)...)
            keyExponents[l].removeSubrange(blocks...)
            valueExponents[l].removeSubrange(blocks...)
        }
    }
}
