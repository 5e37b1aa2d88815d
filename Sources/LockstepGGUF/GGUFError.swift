/// Why a GGUF file could not be opened, read, parsed or written.
///
/// `description` reads like
/// `model.gguf: tensor 'blk.0.attn_q.weight' offset: 123456 is past the end of the file (98362432 bytes) [at byte 4242]`.
public struct GGUFError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file path (or the `name` given to `GGUFFile(bytes:name:)`).
    public let path: String
    /// Absolute byte offset in the file of the field at fault, when the error concerns one.
    public let offset: Int?
    /// The field at fault, e.g. `"header.tensor_count"`, `"key 'general.alignment'"`,
    /// `"tensor 'blk.0.attn_q.weight' offset"`; `nil` for errors about the whole file.
    public let field: String?
    /// What is wrong, naming the value at fault.
    public let message: String

    public init(path: String, offset: Int?, field: String?, message: String) {
        self.path = path
        self.offset = offset
        self.field = field
        self.message = message
    }

    public var description: String {
        var s = path + ": "
        if let field { s += field + ": " }
        s += message
        if let offset { s += " [at byte \(offset)]" }
        return s
    }
}
