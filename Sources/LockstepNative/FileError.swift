/// Why reading or writing a file a user named failed (`readRegularFile`, `writeFile`).
public struct FileError: Error, CustomStringConvertible, Sendable {
    /// The file.
    public let path: String
    /// What is wrong, in the system's words where it gave any ("not a regular file",
    /// "cannot write (No space left on device)").
    public let reason: String
    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }

    public init(path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }
}
