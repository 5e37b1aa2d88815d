import Foundation
import XCTest

/// Runs an executable this package builds (`lockstep`, `lockstep-verify`) the way a user does,
/// with a time limit; the tests of the command-line tools share it.
public enum BuiltProduct {
    /// What a run gave.
    public struct Result: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// True when the process was killed by a signal (a crash) rather than exiting.
        public var crashed: Bool
    }

    /// The directory holding the built products (the test bundle's directory).
    public static var directory: URL {
        Bundle.main.bundleURL.lastPathComponent.hasSuffix("xctest")
            ? Bundle.main.bundleURL.deletingLastPathComponent()
            : URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    /// Runs product `name` with `arguments` (and `environment` added to this process's), output
    /// captured through files so that a chatty child never blocks on a full pipe. With
    /// `interruptOnOutput`, the child gets one SIGINT (Ctrl-C) as soon as it has written to stdout;
    /// with `terminateAfter`, one SIGTERM after that many seconds. With `fileSizeLimit`, the child
    /// writes no file past that many 512-byte blocks, its captured stdout included: such a write
    /// fails (EFBIG), as on a full disk; its stderr then comes through a pipe, so that what it says
    /// about the failure can be read.
    /// - Throws: `XCTSkip` when the product is not built; records a failure (and stops the child)
    ///   when it runs past `timeout` seconds.
    public static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: TimeInterval = 300, interruptOnOutput: Bool = false, terminateAfter: TimeInterval? = nil,
                           fileSizeLimit: Int? = nil) throws -> Result {
        let binary = directory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("\(name) not built at \(binary.path)") }
        let process = Process()
        if let fileSizeLimit {
            // The shell sets the limit and ignores SIGXFSZ (so the write fails instead), then becomes the product.
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "trap '' XFSZ; ulimit -f \(fileSizeLimit); exec \"$0\" \"$@\"", binary.path] + arguments
        } else {
            process.executableURL = binary
            process.arguments = arguments
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let dir = try freshTemporaryDirectory("run")
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }
        process.standardOutput = out
        let errPipe = fileSizeLimit == nil ? nil : Pipe(), piped = PipedBytes()
        process.standardError = errPipe ?? err
        try process.run()
        if let reading = errPipe?.fileHandleForReading {
            DispatchQueue.global().async { piped.finish(reading.readDataToEndOfFile()) }
        }
        let started = Date(), deadline = started.addingTimeInterval(timeout)
        var interrupted = false, terminated = false
        while process.isRunning && Date() < deadline {
            if let terminateAfter, !terminated, Date().timeIntervalSince(started) >= terminateAfter {
                process.terminate()
                terminated = true
            }
            if interruptOnOutput && !interrupted,
               let size = (try? FileManager.default.attributesOfItem(atPath: outURL.path))?[.size] as? Int, size > 0 {
                process.interrupt()
                interrupted = true
            }
            usleep(5_000)
        }
        if process.isRunning {
            process.terminate()
            XCTFail("\(name) \(arguments.joined(separator: " ")) did not finish within \(timeout) s")
        }
        process.waitUntilExit()
        let outData = try Data(contentsOf: outURL), errData = errPipe == nil ? try Data(contentsOf: errURL) : piped.wait()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), crashed: process.terminationReason == .uncaughtSignal)
    }
}

/// What a pipe delivered up to its end, read on another thread.
private final class PipedBytes: @unchecked Sendable {
    private var data = Data()   // written once, before `done` is signalled
    private let done = DispatchSemaphore(value: 0)

    func finish(_ bytes: Data) {
        data = bytes
        done.signal()
    }

    /// The bytes, once the writing end has closed.
    func wait() -> Data {
        done.wait()
        return data
    }
}
