/// A metadata value stored in a GGUF file's key/value section.
///
/// Arrays are kept typed so that large vocabularies (tens of thousands of strings, scores and
/// token types) are stored compactly and can be read without per-element enum boxing.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case uint64(UInt64)
    case int64(Int64)
    case float32(Float)
    case float64(Double)
    case bool(Bool)
    case string(String)
    case array(GGUFArray)

    /// The value as an integer, when it is any integer type (or a bool) and fits in `Int`.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(exactly: v)
        case .bool(let v): return v ? 1 : 0
        default: return nil
        }
    }

    /// The value as a `Double`, when it is any numeric type.
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return intValue.map(Double.init)
        }
    }

    /// The value as a `Bool`, when it is a bool.
    public var boolValue: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    /// The value as a `String`, when it is a string.
    public var stringValue: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    /// The value as an array, when it is one.
    public var arrayValue: GGUFArray? {
        if case .array(let v) = self { return v }
        return nil
    }
}

/// A typed GGUF metadata array. Nested arrays are kept as arrays of `GGUFValue`.
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8])
    case int8([Int8])
    case uint16([UInt16])
    case int16([Int16])
    case uint32([UInt32])
    case int32([Int32])
    case uint64([UInt64])
    case int64([Int64])
    case float32([Float])
    case float64([Double])
    case bool([Bool])
    case string([String])
    /// An array of arrays (GGUF allows nesting); each element is a `.array` value.
    case nested([GGUFValue])

    /// Number of elements.
    public var count: Int {
        switch self {
        case .uint8(let a): return a.count
        case .int8(let a): return a.count
        case .uint16(let a): return a.count
        case .int16(let a): return a.count
        case .uint32(let a): return a.count
        case .int32(let a): return a.count
        case .uint64(let a): return a.count
        case .int64(let a): return a.count
        case .float32(let a): return a.count
        case .float64(let a): return a.count
        case .bool(let a): return a.count
        case .string(let a): return a.count
        case .nested(let a): return a.count
        }
    }

    /// The elements as strings, when this is a string array.
    public var strings: [String]? {
        if case .string(let a) = self { return a }
        return nil
    }

    /// The elements as `Float`s, when this is a float32 array.
    public var floats: [Float]? {
        if case .float32(let a) = self { return a }
        return nil
    }

    /// The elements as `Int`s, when this is an integer array whose every element fits.
    public var ints: [Int]? {
        switch self {
        case .uint8(let a): return a.map(Int.init)
        case .int8(let a): return a.map(Int.init)
        case .uint16(let a): return a.map(Int.init)
        case .int16(let a): return a.map(Int.init)
        case .uint32(let a): return a.map(Int.init)
        case .int32(let a): return a.map(Int.init)
        case .uint64(let a):
            var out: [Int] = []; out.reserveCapacity(a.count)
            for v in a { guard let i = Int(exactly: v) else { return nil }; out.append(i) }
            return out
        case .int64(let a): return a.map { Int($0) }
        default: return nil
        }
    }
}
