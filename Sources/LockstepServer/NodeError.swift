/// Why the node refused or could not serve a request, with the HTTP status it answers with.
public struct NodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The class of failure.
    public enum Kind: Sendable, Equatable {
        /// The request is malformed or asks for what the node does not allow (HTTP 400).
        case badRequest
        /// No such route or trace (HTTP 404).
        case notFound
        /// The request body is larger than the node accepts (HTTP 413).
        case tooLarge
        /// The request body did not arrive in the time the node allows (HTTP 408).
        case timeout
        /// Too many requests are already waiting for the engine (HTTP 503).
        case busy
        /// The engine or the trace store failed (HTTP 500).
        case failed
    }

    /// The class of failure, which fixes the HTTP status.
    public let kind: Kind
    /// One line naming the field and value at fault, or what failed.
    public let description: String
    /// Whether the node answers and then closes the connection: it refused the request before
    /// reading all of its body (too large, too slow, malformed framing), so the rest is never read.
    public let closesConnection: Bool

    public init(_ kind: Kind, _ message: String, closesConnection: Bool = false) {
        self.kind = kind
        self.description = message
        self.closesConnection = closesConnection
    }

    /// The HTTP status code of the answer.
    public var httpStatus: Int {
        switch kind {
        case .badRequest: return 400
        case .notFound: return 404
        case .tooLarge: return 413
        case .timeout: return 408
        case .busy: return 503
        case .failed: return 500
        }
    }
}
