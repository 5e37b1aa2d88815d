import Foundation

/// The bytes of request bodies being read, over all of a node's connections, against a fixed
/// total (`NodeService.Limits.maxBodyBytesInFlight`): slow clients cannot make the node hold
/// more body bytes than that, however many connections they open.
final class BodyBudget: @unchecked Sendable {   // `used` only under `lock`
    private let lock = NSLock()
    private let total: Int
    private var used = 0

    init(bytes: Int) { total = bytes }

    /// Takes `n` bytes; false, taking none, when that would pass the total.
    func take(_ n: Int) -> Bool {
        lock.withLock {
            guard used + n <= total else { return false }
            used += n
            return true
        }
    }

    /// Gives back `n` bytes taken.
    func release(_ n: Int) { lock.withLock { used -= n } }
}
