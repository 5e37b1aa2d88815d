/// The block formats a weight matrix may have inside the contract. Each is exactly a small
/// integer times an fp16 block scale (plus an fp16 offset for Q4_1), as stored in GGUF.
public enum WeightFormat: String, Sendable, CaseIterable {
    /// fp16 scale `d`, 32 × int8 `q`: `w = d·q`.
    case q8_0 = "Q8_0"
    /// fp16 scale `d`, 16 bytes of nibbles: `w = d·(q − 8)`; element `j < 16` is the low nibble
    /// of byte `j`, element `j ≥ 16` the high nibble of byte `j − 16`.
    case q4_0 = "Q4_0"
    /// fp16 scale `d`, fp16 offset `m`, 16 bytes of nibbles (as Q4_0): `w = d·q + m`.
    case q4_1 = "Q4_1"

    /// Bytes per block of 32 weights.
    public var blockBytes: Int {
        switch self {
        case .q8_0: return 34
        case .q4_0: return 18
        case .q4_1: return 20
        }
    }
}

/// An fp16 value split into an exact integer significand and a power of two:
/// `value = significand × 2^exponent`, `|significand| < 2^11`.
public struct SplitHalf: Sendable, Equatable {
    /// Signed integer significand (zero for ±0).
    public var significand: Int32
    /// Power-of-two exponent.
    public var exponent: Int32

    /// Splits an fp16 bit pattern. Returns nil for infinities and NaNs, which no contract
    /// operand may hold.
    @inlinable public init?(bits: UInt16) {
        let e = Int32((bits >> 10) & 0x1F)
        let f = Int32(bits & 0x3FF)
        if e == 31 { return nil }
        if e == 0 {
            significand = f
            exponent = -24
        } else {
            significand = f | 0x400
            exponent = e - 25
        }
        if bits & 0x8000 != 0 { significand = -significand }
    }
}

/// A read-only weight matrix in a contract block format: `rows` output rows, each of
/// `columns` inputs (a multiple of 32), stored row after row as `columns / 32` blocks.
///
/// The bytes are borrowed (usually memory-mapped from the GGUF); `owner` keeps them alive.
public struct WeightMatrix: @unchecked Sendable {
    /// Block format of every block.
    public let format: WeightFormat
    /// Output rows (N).
    public let rows: Int
    /// Inputs per row (K), a multiple of 32.
    public let columns: Int
    /// `rows × columns/32 × format.blockBytes` bytes.
    public let bytes: UnsafeRawBufferPointer
    /// Keeps the storage behind `bytes` alive.
    public let owner: AnyObject?

    /// Blocks per row.
    public var blocksPerRow: Int { columns / 32 }
    /// Bytes per row.
    public var rowBytes: Int { blocksPerRow * format.blockBytes }

    /// Wraps `bytes` as a `rows × columns` matrix.
    /// - Precondition: `columns % 32 == 0`, `bytes.count == rows × columns/32 × blockBytes`.
    public init(format: WeightFormat, rows: Int, columns: Int, bytes: UnsafeRawBufferPointer, owner: AnyObject?) {
        precondition(columns % 32 == 0 && rows >= 0, "WeightMatrix: columns must be a multiple of 32")
        precondition(bytes.count == rows * (columns / 32) * format.blockBytes, "WeightMatrix: byte count does not match the shape")
        self.format = format
        self.rows = rows
        self.columns = columns
        self.bytes = bytes
        self.owner = owner
    }

    /// Rows `range` of this matrix, sharing its storage (`range` within `0 ..< rows`).
    public func rows(_ range: Range<Int>) -> WeightMatrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= rows, "WeightMatrix.rows: \(range) outside 0..<\(rows)")
        return WeightMatrix(format: format, rows: range.count, columns: columns,
                            bytes: UnsafeRawBufferPointer(rebasing: bytes[range.lowerBound * rowBytes ..< range.upperBound * rowBytes]), owner: owner)
    }
}
