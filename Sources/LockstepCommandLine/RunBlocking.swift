import Dispatch

/// Runs `work` as a task and waits for it on the calling thread: the command-line tools are
/// synchronous, and the node's HTTP server and client are async.
public func runBlocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = BlockingOutcome<T>()
    Task.detached {
        do { outcome.result = .success(try await work()) } catch { outcome.result = .failure(error) }
        outcome.done.signal()
    }
    outcome.done.wait()
    return try outcome.result!.get()
}

/// What `runBlocking`'s task hands to the waiting thread.
private final class BlockingOutcome<T: Sendable>: @unchecked Sendable {   // written before `done` is signalled
    let done = DispatchSemaphore(value: 0)
    var result: Result<T, any Error>?
}
