import Dispatch
import Foundation

/// Ctrl-C for a command that can stop early with a complete result (`lockstep generate`): the
/// first SIGINT asks it to stop at its next chance (after the token being chosen); a second one
/// ends the process at once.
enum Interruption {
    /// SIGINTs received since `arm()`, and the dispatch source that counts them.
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var signals = 0
        var source: DispatchSourceSignal?
    }
    private static let state = State()

    /// Exit status of a command that stopped at a SIGINT (128 + 2, as a shell reports it).
    static let exitStatus: Int32 = 130

    /// Takes SIGINT over (its default action would end the process at once). Idempotent.
    static func arm() {
        state.lock.lock()
        defer { state.lock.unlock() }
        guard state.source == nil else { return }
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            state.lock.lock()
            state.signals += Int(source.data)
            let signals = state.signals
            state.lock.unlock()
            if signals > 1 { _exit(exitStatus) }
        }
        source.resume()
        state.source = source
    }

    /// Whether a SIGINT has arrived since `arm()`.
    static var requested: Bool {
        state.lock.lock()
        defer { state.lock.unlock() }
        return state.signals > 0
    }
}
