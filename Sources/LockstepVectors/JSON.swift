/// A JSON value with ordered object keys, written and read by this module itself so that the
/// vector files are byte-identical on every regeneration (no dependence on a platform encoder's
/// key order, number formatting or escaping).
///
/// Numbers are kept as their source text: the vectors only use integers (anything wider than
/// 2^53 or not an integer is carried as a string), so no floating-point parsing is involved.
public indirect enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number, as written (e.g. `"42"`, `"-7"`).
    case number(String)
    case string(String)
    case array([JSON])
    /// Key–value pairs in file order.
    case object([(String, JSON)])

    /// An integer number.
    public static func int<I: BinaryInteger>(_ v: I) -> JSON { .number(String(v)) }

    public static func == (a: JSON, b: JSON) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.number(x), .number(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    // MARK: Access

    /// The value of `key` in an object (nil otherwise or when absent).
    public subscript(key: String) -> JSON? {
        guard case .object(let pairs) = self else { return nil }
        return pairs.first(where: { $0.0 == key })?.1
    }

    /// The string value, or nil.
    public var string: String? { if case .string(let s) = self { return s } else { return nil } }
    /// The array elements, or nil.
    public var array: [JSON]? { if case .array(let a) = self { return a } else { return nil } }
    /// The object pairs, or nil.
    public var object: [(String, JSON)]? { if case .object(let o) = self { return o } else { return nil } }
    /// The boolean value, or nil.
    public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
    /// The number as an `Int` when it is an integer in range, or nil.
    public var int: Int? { if case .number(let n) = self { return Int(n) } else { return nil } }

    // MARK: Writing

    /// The canonical text: two-space indentation, arrays of scalars on one line, objects one
    /// key per line, a final newline. Only `"`, `\` and control characters are escaped.
    public func serialized() -> String {
        var out = ""
        write(into: &out, indent: 0)
        out += "\n"
        return out
    }

    private var isScalar: Bool {
        switch self {
        case .array(let a): return a.isEmpty
        case .object(let o): return o.isEmpty
        default: return true
        }
    }

    private func write(into out: inout String, indent: Int) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += n
        case .string(let s): JSON.writeString(s, into: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            if a.allSatisfy(\.isScalar) {
                out += "["
                for (i, v) in a.enumerated() {
                    if i > 0 { out += ", " }
                    v.write(into: &out, indent: indent)
                }
                out += "]"
                return
            }
            let pad = String(repeating: " ", count: indent + 2)
            out += "[\n"
            for (i, v) in a.enumerated() {
                out += pad
                v.write(into: &out, indent: indent + 2)
                out += i + 1 < a.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "]"
        case .object(let o):
            if o.isEmpty { out += "{}"; return }
            let pad = String(repeating: " ", count: indent + 2)
            out += "{\n"
            for (i, (k, v)) in o.enumerated() {
                out += pad
                JSON.writeString(k, into: &out)
                out += ": "
                v.write(into: &out, indent: indent + 2)
                out += i + 1 < o.count ? ",\n" : "\n"
            }
            out += String(repeating: " ", count: indent) + "}"
        }
    }

    private static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    // MARK: Reading

    /// Parses JSON text (RFC 8259).
    /// - Throws: `VectorError` with the byte offset of the first problem.
    public static func parse(_ text: String) throws(VectorError) -> JSON {
        var p = Parser(bytes: Array(text.utf8))
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == p.bytes.count else { throw p.error("trailing characters") }
        return v
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        func error(_ what: String) -> VectorError { VectorError("JSON: \(what) at byte \(i)") }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
        }

        mutating func expect(_ literal: String) throws(VectorError) {
            let l = Array(literal.utf8)
            guard i + l.count <= bytes.count, Array(bytes[i ..< i + l.count]) == l else { throw error("expected \(literal)") }
            i += l.count
        }

        mutating func value(depth: Int) throws(VectorError) -> JSON {
            guard depth < 64 else { throw error("nesting too deep") }
            guard i < bytes.count else { throw error("unexpected end") }
            switch bytes[i] {
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "["):
                i += 1
                var a: [JSON] = []
                skipSpace()
                if i < bytes.count && bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                while true {
                    skipSpace()
                    a.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < bytes.count else { throw error("unterminated array") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                    throw error("expected , or ]")
                }
            case UInt8(ascii: "{"):
                i += 1
                var o: [(String, JSON)] = []
                skipSpace()
                if i < bytes.count && bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                while true {
                    skipSpace()
                    guard i < bytes.count && bytes[i] == UInt8(ascii: "\"") else { throw error("expected a key") }
                    let k = try string()
                    skipSpace()
                    try expect(":")
                    skipSpace()
                    o.append((k, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < bytes.count else { throw error("unterminated object") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                    throw error("expected , or }")
                }
            default:
                let start = i
                if bytes[i] == UInt8(ascii: "-") { i += 1 }
                let allowed = Set("0123456789.eE+-".utf8)
                while i < bytes.count && allowed.contains(bytes[i]) { i += 1 }
                let text = String(decoding: bytes[start ..< i], as: UTF8.self)
                guard i > start, Double(text) != nil else { i = start; throw error("invalid value") }
                return .number(text)
            }
        }

        mutating func hex4() throws(VectorError) -> UInt32 {
            guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i ..< i + 4], as: UTF8.self), radix: 16) else {
                throw error("bad \\u escape")
            }
            i += 4
            return v
        }

        mutating func string() throws(VectorError) -> String {
            i += 1   // opening quote
            var scalars = String.UnicodeScalarView()
            var run: [UInt8] = []
            func flush() { if !run.isEmpty { scalars.append(contentsOf: String(decoding: run, as: UTF8.self).unicodeScalars); run = [] } }
            while true {
                guard i < bytes.count else { throw error("unterminated string") }
                let b = bytes[i]
                if b == UInt8(ascii: "\"") { i += 1; break }
                if b < 0x20 { throw error("control character in string") }
                if b != UInt8(ascii: "\\") { run.append(b); i += 1; continue }
                flush()
                i += 1
                guard i < bytes.count else { throw error("unterminated escape") }
                let c = bytes[i]
                i += 1
                switch c {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if (0xD800..<0xDC00).contains(v) {
                        try expect("\\u")
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("bad surrogate pair") }
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let u = Unicode.Scalar(v) else { throw error("bad \\u escape") }
                    scalars.append(u)
                default: throw error("bad escape")
                }
            }
            flush()
            return String(scalars)
        }
    }
}

/// A problem with a vector file or directory: unreadable, malformed, or of an unknown kind.
public struct VectorError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
