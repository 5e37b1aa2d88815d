/// One entry of a GGUF file's tensor-info table, validated against the file.
///
/// Every instance produced by `GGUFFile` satisfies: `1 <= dimensions.count <= 4`, every dimension
/// `>= 1`, `dimensions[0]` a multiple of `type.blockElements`, `elementCount` the (non-overflowing)
/// product of the dimensions, `byteCount == type.byteCount(elements: elementCount)`, `offset` a
/// multiple of the file's alignment, and `offset + byteCount` inside the file's data section.
public struct GGUFTensorInfo: Sendable, Equatable {
    /// Tensor name, e.g. `"blk.0.attn_q.weight"` (valid UTF-8, 1...64 bytes, unique in the file).
    public let name: String
    /// ggml `ne[]`: element counts per dimension, fastest-varying first, exactly as stored in the
    /// file (1...4 entries). A weight matrix with `rows` rows of `cols` elements is `[cols, rows]`.
    public let dimensions: [Int]
    /// Element storage type.
    public let type: GGMLType
    /// Byte offset of the tensor's data, relative to the start of the data section
    /// (`GGUFFile.dataOffset`).
    public let offset: Int
    /// Number of elements: the product of `dimensions`.
    public let elementCount: Int
    /// Size of the tensor's data in bytes: `elementCount / type.blockElements * type.blockBytes`.
    public let byteCount: Int

    /// Creates a tensor description. `GGUFFile` only creates validated ones; this initialiser
    /// performs no checks.
    public init(name: String, dimensions: [Int], type: GGMLType, offset: Int, elementCount: Int, byteCount: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.elementCount = elementCount
        self.byteCount = byteCount
    }
}
