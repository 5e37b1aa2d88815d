extension GGUFValue {
    /// The most Unicode scalars of a text that ``clipped(_:)`` and ``quoted(_:)`` show; the rest is cut to `…`.
    public static let quotedScalarLimit = 40

    /// A short, one-line description of the value for error messages, whatever its size: the type
    /// and the value — `uint32 2048`, `float32 1e-05`, `bool true`, `string "llama"` (quoted as
    /// by ``quoted(_:)``) — or for an array its length and element type, never its elements:
    /// `an array of 60000000 uint8 values` (nested: `an array of 3 array values`).
    public var summary: String {
        switch self {
        case .string(let v): return "string " + GGUFValue.quoted(v)
        case .array(let a): return "an array of \(a.count) \(a.elementTypeName) values"
        case .uint8(let v): return "uint8 \(v)"
        case .int8(let v): return "int8 \(v)"
        case .uint16(let v): return "uint16 \(v)"
        case .int16(let v): return "int16 \(v)"
        case .uint32(let v): return "uint32 \(v)"
        case .int32(let v): return "int32 \(v)"
        case .uint64(let v): return "uint64 \(v)"
        case .int64(let v): return "int64 \(v)"
        case .float32(let v): return "float32 \(v)"
        case .float64(let v): return "float64 \(v)"
        case .bool(let v): return "bool \(v)"
        }
    }

    /// `text` from a file, in double quotes, made fit to show in a one-line error message as by
    /// ``clipped(_:)``.
    public static func quoted(_ text: String) -> String { "\"" + clipped(text) + "\"" }

    /// `text` from a file made fit to show in a one-line error message: at most
    /// ``quotedScalarLimit`` Unicode scalars (then `…`), and every control character — C0 (line
    /// feed and tab included), DEL and C1, what a terminal acts on — written as `\u{XX}`
    /// (hexadecimal scalar value), so that a hostile file can neither flood nor drive the terminal
    /// that shows the message.
    public static func clipped(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var shown = 0
        for scalar in text.unicodeScalars {
            if shown == quotedScalarLimit {
                out.append("…")
                break
            }
            let v = scalar.value
            if v < 0x20 || (0x7F ... 0x9F).contains(v) {
                out.append(contentsOf: "\\u{\(String(v, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
            shown += 1
        }
        return String(out)
    }
}
