import Foundation

/// The JSON object of a request body, read once for both of the node's POST routes.
enum RequestJSON {
    /// Parses `body` as one JSON object whose top-level fields are each given once.
    /// - Parameter fields: the fields the route accepts, for the error naming an unknown one.
    /// - Throws: `NodeError.badRequest`: not JSON (with the parser's position), JSON that is not
    ///   an object, a field given twice (parsers differ on which copy counts, so the node takes
    ///   neither), or a field not in `fields`. Field names in messages are clipped to 80
    ///   characters.
    static func object(_ body: [UInt8], fields: Set<String>, route: String) throws(NodeError) -> [String: Any] {
        // JSON text in UTF-8 holds no NUL byte (SPEC §9.2); the parser would also take UTF-16 or UTF-32.
        guard !body.contains(0) else { throw NodeError(.badRequest, "the request body is not UTF-8 JSON (it holds a NUL byte)") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed]) } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw NodeError(.badRequest, "the request body is not JSON: \(detail)")
        }
        guard let object = parsed as? [String: Any] else { throw NodeError(.badRequest, "the request body is JSON but not an object") }
        var seen = Set<String>()
        for key in topLevelKeys(body) where !seen.insert(key).inserted {
            throw NodeError(.badRequest, "field '\(clipped(key))' is given twice")
        }
        if let unknown = object.keys.filter({ !fields.contains($0) }).sorted().first {
            throw NodeError(.badRequest, "unknown field '\(clipped(unknown))'; \(route) carries \(fields.sorted().joined(separator: ", "))")
        }
        return object
    }

    /// The names of the top-level fields of `body`, one valid JSON object in UTF-8, in order and
    /// with their escapes decoded, repeats kept.
    static func topLevelKeys(_ body: [UInt8]) -> [String] {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var keys: [String] = [], depth = 0, expectKey = false, i = 0
        while i < body.count {
            switch body[i] {
            case quote:
                let start = i
                i += 1
                while i < body.count && body[i] != quote { i += body[i] == backslash ? 2 : 1 }
                if depth == 1 && expectKey && i < body.count {
                    let text = try? JSONSerialization.jsonObject(with: Data(body[start ... i]), options: [.fragmentsAllowed])
                    keys.append(text as? String ?? "")
                    expectKey = false
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectKey = depth == 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1 { expectKey = true }
            default:
                break
            }
            i += 1
        }
        return keys
    }

    /// `text`, cut to its first 80 characters (with "…" when cut).
    static func clipped(_ text: String) -> String { text.count <= 80 ? text : text.prefix(80) + "…" }
}
