import Foundation
import XCTest
import LockstepTestSupport

/// Runs the built `lockstep` executable with a time limit.
struct CLIRunner {
    typealias Result = BuiltProduct.Result

    static func run(_ arguments: [String], timeout: TimeInterval = 120, environment: [String: String] = [:]) throws -> Result {
        try BuiltProduct.run("lockstep", arguments, environment: environment, timeout: timeout)
    }

    /// A fresh temporary directory.
    static func temporaryDirectory() throws -> URL {
        try freshTemporaryDirectory("cli")
    }
}
