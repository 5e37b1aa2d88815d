import LockstepGGUF
import LockstepTokenizer

/// Why a model could not be loaded or run. The description names the file, the field and the
/// value at fault.
public struct ModelError: Error, CustomStringConvertible, Sendable {
    /// The file involved (or `<memory>`).
    public let path: String
    /// What is wrong.
    public let message: String

    public init(path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }

    init(_ error: GGUFError) {
        self.init(path: error.path, error.description.hasPrefix(error.path + ": ") ?
                  String(error.description.dropFirst(error.path.count + 2)) : error.description)
    }
}
