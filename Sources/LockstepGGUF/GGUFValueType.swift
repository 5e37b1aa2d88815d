/// On-disk metadata value type numbers (`gguf_type`).
enum GGUFValueType: UInt32 {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6
    case bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Lower-case name used in error messages and by `GGUFValue.typeName`.
    var name: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .float32: return "float32"
        case .bool: return "bool"
        case .string: return "string"
        case .array: return "array"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float64: return "float64"
        }
    }

    /// The fewest bytes one value of this type can occupy in a file (a string: its 8-byte length;
    /// an array: its 4-byte element type and 8-byte count). Used to bound counts read from a file.
    var minimumEncodedSize: Int {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64, .string: return 8
        case .array: return 12
        }
    }
}

extension GGUFValue {
    /// The on-disk type number of this value.
    var valueType: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        }
    }

    /// The GGUF name of the value's type: `"uint8"`, …, `"float64"`, `"bool"`, `"string"`, or for
    /// arrays `"array<uint32>"` (nested: `"array<array>"`). Handy in "expected X, found Y" errors.
    public var typeName: String {
        if case .array(let a) = self { return "array<\(a.elementTypeName)>" }
        return valueType.name
    }
}

extension GGUFArray {
    /// The on-disk type number of the elements.
    var elementType: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .uint64: return .uint64
        case .int64: return .int64
        case .float32: return .float32
        case .float64: return .float64
        case .bool: return .bool
        case .string: return .string
        case .nested: return .array
        }
    }

    /// The GGUF name of the element type: `"uint8"`, …, `"string"`, or `"array"` for nested arrays.
    public var elementTypeName: String { elementType.name }
}
