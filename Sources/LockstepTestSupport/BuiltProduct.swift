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
    /// with `terminateAfter`, one SIGTERM after that many seconds.
    /// - Throws: `XCTSkip` when the product is not built; records a failure (and stops the child)
    ///   when it runs past `timeout` seconds.
    public static func run(_ name: String, _ arguments: [String], environment: [String: String] = [:],
                           timeout: TimeInterval = 300, interruptOnOutput: Bool = false, terminateAfter: TimeInterval? = nil) throws -> Result {
        let binary = directory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw XCTSkip("\(name) not built at \(binary.path)") }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
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
        process.standardError = err
        try process.run()
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
        let outData = try Data(contentsOf: outURL), errData = try Data(contentsOf: errURL)
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self), crashed: process.terminationReason == .uncaughtSignal)
    }
}
