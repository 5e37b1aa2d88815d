/// The ggml tensor element types Lockstep can load, with their on-disk numbers.
///
/// A tensor of a quantised type is stored as consecutive *blocks*: `blockElements` weights packed
/// into `blockBytes` bytes. Blocks run along the fastest-varying dimension (`dimensions[0]`), so
/// that dimension must be a multiple of `blockElements`.
///
/// | type | elements / block | bytes / block | layout of one block                         |
/// |------|------------------|---------------|---------------------------------------------|
/// | F32  | 1                | 4             | IEEE binary32                               |
/// | F16  | 1                | 2             | IEEE binary16                               |
/// | BF16 | 1                | 2             | bfloat16 (upper half of a binary32)         |
/// | Q4_0 | 32               | 18            | fp16 scale `d`, 16 bytes of 4-bit values    |
/// | Q4_1 | 32               | 20            | fp16 `d`, fp16 min `m`, 16 bytes of nibbles  |
/// | Q8_0 | 32               | 34            | fp16 scale `d`, 32 signed bytes             |
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q8_0 = 8
    case bf16 = 30

    /// Number of tensor elements in one storage block: 1 for F32/F16/BF16, 32 for Q4_0/Q4_1/Q8_0.
    public var blockElements: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q8_0: return 32
        }
    }

    /// Size in bytes of one storage block: 4 (F32), 2 (F16, BF16), 18 (Q4_0), 20 (Q4_1), 34 (Q8_0).
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18
        case .q4_1: return 20
        case .q8_0: return 34
        }
    }

    /// The ggml name of the type: "F32", "F16", "BF16", "Q4_0", "Q4_1" or "Q8_0".
    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .bf16: return "BF16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q8_0: return "Q8_0"
        }
    }

    /// Bytes needed to store `elements` elements of this type.
    ///
    /// - Returns: `nil` when `elements` is negative, is not a multiple of `blockElements`, or the
    ///   byte count would overflow `Int`.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockElements == 0 else { return nil }
        let (bytes, overflow) = (elements / blockElements).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    /// The ggml name of any on-disk type number, including types Lockstep does not load
    /// (used to make "unsupported tensor type" errors readable). `nil` for numbers ggml never used.
    public static func ggmlName(of rawValue: UInt32) -> String? {
        if let t = GGMLType(rawValue: rawValue) { return t.name }
        switch rawValue {
        case 6: return "Q5_0"
        case 7: return "Q5_1"
        case 9: return "Q8_1"
        case 10: return "Q2_K"
        case 11: return "Q3_K"
        case 12: return "Q4_K"
        case 13: return "Q5_K"
        case 14: return "Q6_K"
        case 15: return "Q8_K"
        case 16: return "IQ2_XXS"
        case 17: return "IQ2_XS"
        case 18: return "IQ3_XXS"
        case 19: return "IQ1_S"
        case 20: return "IQ4_NL"
        case 21: return "IQ3_S"
        case 22: return "IQ2_S"
        case 23: return "IQ4_XS"
        case 24: return "I8"
        case 25: return "I16"
        case 26: return "I32"
        case 27: return "I64"
        case 28: return "F64"
        case 29: return "IQ1_M"
        case 34: return "TQ1_0"
        case 35: return "TQ2_0"
        case 39: return "MXFP4"
        default: return nil
        }
    }
}
