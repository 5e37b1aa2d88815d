import LockstepCore
import LockstepNative

/// Element types of a tensor field in a vector file (Vectors/README.md, "Tensor fields").
public enum ElementType: String, Sendable, CaseIterable {
    case f32, f64, i16, i32, i64, u64
    /// Weight blocks in GGUF layout; `shape` is `[rows, columns]` of the weight matrix.
    case q8_0 = "Q8_0", q4_0 = "Q4_0", q4_1 = "Q4_1"

    /// Bytes per element (per block for the block formats).
    public var byteWidth: Int {
        switch self {
        case .f32, .i32: return 4
        case .f64, .i64, .u64: return 8
        case .i16: return 2
        case .q8_0: return 34
        case .q4_0: return 18
        case .q4_1: return 20
        }
    }

    /// The weight format of a block type.
    public var weightFormat: WeightFormat? {
        switch self {
        case .q8_0: return .q8_0
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        default: return nil
        }
    }
}

/// Little-endian byte encodings of the contract's scalar types.
public enum LittleEndian {
    public static func bytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(values.count * MemoryLayout<T>.size)
        for v in values { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    public static func integers<T: FixedWidthInteger>(_ bytes: [UInt8], as: T.Type) -> [T] {
        let w = MemoryLayout<T>.size
        return stride(from: 0, to: bytes.count, by: w).map { start in
            var v: T = 0
            for k in 0 ..< w { v |= T(truncatingIfNeeded: bytes[start + k]) << (8 * k) }
            return v
        }
    }
}

/// A typed, shaped array from a vector file: `{"type", "shape", "hex", "values"?}`.
public struct TensorField: Sendable {
    public var type: ElementType
    public var shape: [Int]
    public var bytes: [UInt8]

    /// Elements (blocks for the block types) the shape implies.
    public static func elementCount(type: ElementType, shape: [Int]) -> Int {
        if type.weightFormat != nil { return shape.count == 2 ? shape[0] * (shape[1] / 32) : -1 }
        return shape.reduce(1, *)
    }

    public init(type: ElementType, shape: [Int], bytes: [UInt8]) {
        self.type = type; self.shape = shape; self.bytes = bytes
    }

    /// Reads a tensor field, checking that the bytes match the type and shape.
    public init(_ json: JSON?, name: String) throws(VectorError) {
        guard let json, case .object = json else { throw VectorError("field '\(name)' is missing or not an object") }
        guard let t = json["type"]?.string, let type = ElementType(rawValue: t) else {
            throw VectorError("field '\(name)': unknown or missing type")
        }
        guard let dims = json["shape"]?.array?.compactMap(\.int), dims.count == json["shape"]?.array?.count else {
            throw VectorError("field '\(name)': missing or invalid shape")
        }
        guard let hex = json["hex"]?.string else { throw VectorError("field '\(name)': missing hex") }
        guard let bytes = Hex.decode(hex) else { throw VectorError("invalid hex text (odd length or a non-hex digit)") }
        let count = Self.elementCount(type: type, shape: dims)
        guard count >= 0, bytes.count == count * type.byteWidth else {
            throw VectorError("field '\(name)': \(bytes.count) bytes do not match type \(type.rawValue) and shape \(dims)")
        }
        self.init(type: type, shape: dims, bytes: bytes)
    }

    public var floats: [Float] { LittleEndian.integers(bytes, as: UInt32.self).map { Float(bitPattern: $0) } }
    public var doubles: [Double] { LittleEndian.integers(bytes, as: UInt64.self).map { Double(bitPattern: $0) } }
    public var int16s: [Int16] { LittleEndian.integers(bytes, as: Int16.self) }
    public var int32s: [Int32] { LittleEndian.integers(bytes, as: Int32.self) }
    public var int64s: [Int64] { LittleEndian.integers(bytes, as: Int64.self) }
    public var uint64s: [UInt64] { LittleEndian.integers(bytes, as: UInt64.self) }

    // MARK: Building

    /// Fields with at most this many elements carry readable `values`.
    public static let readableLimit = 64

    /// Readable decimal text of the elements (nil for block types and fields of more than
    /// `readableLimit` elements).
    var readableValues: [String]? {
        guard type.weightFormat == nil, Self.elementCount(type: type, shape: shape) <= Self.readableLimit else { return nil }
        switch type {
        case .f32: return floats.map(Readable.float)
        case .f64: return doubles.map(Readable.double)
        case .i16: return int16s.map { String($0) }
        case .i32: return int32s.map { String($0) }
        case .i64: return int64s.map { String($0) }
        case .u64: return uint64s.map { String($0) }
        default: return nil
        }
    }

    /// The JSON object of the field.
    func json(values: [String]?) -> JSON {
        var o: [(String, JSON)] = [("type", .string(type.rawValue)), ("shape", .array(shape.map { .int($0) }))]
        o.append(("hex", .string(Hex.encode(bytes))))
        if let values { o.append(("values", .array(values.map { .string($0) }))) }
        return .object(o)
    }

    /// The JSON object with readable values where the size allows.
    var json: JSON { json(values: readableValues) }

    static func f32(_ v: [Float], shape: [Int]? = nil) -> TensorField {
        TensorField(type: .f32, shape: shape ?? [v.count], bytes: LittleEndian.bytes(v.map(\.bitPattern)))
    }
    static func f64(_ v: [Double], shape: [Int]? = nil) -> TensorField {
        TensorField(type: .f64, shape: shape ?? [v.count], bytes: LittleEndian.bytes(v.map(\.bitPattern)))
    }
    static func i16(_ v: [Int16], shape: [Int]) -> TensorField { TensorField(type: .i16, shape: shape, bytes: LittleEndian.bytes(v)) }
    static func i32(_ v: [Int32], shape: [Int]) -> TensorField { TensorField(type: .i32, shape: shape, bytes: LittleEndian.bytes(v)) }
    static func i64(_ v: [Int64], shape: [Int]? = nil) -> TensorField { TensorField(type: .i64, shape: shape ?? [v.count], bytes: LittleEndian.bytes(v)) }
    static func u64(_ v: [UInt64], shape: [Int]? = nil) -> TensorField { TensorField(type: .u64, shape: shape ?? [v.count], bytes: LittleEndian.bytes(v)) }
    static func weights(_ format: WeightFormat, rows: Int, columns: Int, bytes: [UInt8]) -> TensorField {
        let type: ElementType = format == .q8_0 ? .q8_0 : format == .q4_0 ? .q4_0 : .q4_1
        return TensorField(type: type, shape: [rows, columns], bytes: bytes)
    }
}

/// Readable (informative) decimal text of floating-point values: the shortest decimal that
/// round-trips, `nan`, `inf`, `-inf`, `-0.0`.
enum Readable {
    static func float(_ v: Float) -> String { v.isNaN ? "nan" : v.description }
    static func double(_ v: Double) -> String { v.isNaN ? "nan" : v.description }
}
