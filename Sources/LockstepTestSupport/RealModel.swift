import Foundation
import XCTest
import LockstepModel

/// The real model for the tests that need it.
public enum RealModel {
    /// The real model from the cache, or a skip — a failure when `LOCKSTEP_REQUIRE_MODEL=1`
    /// (CI fetched it, so it must be tested).
    public static func load() throws -> LlamaModel {
        let path = ModelStore.realModelPath
        guard FileManager.default.fileExists(atPath: path) else {
            if ProcessInfo.processInfo.environment["LOCKSTEP_REQUIRE_MODEL"] == "1" {
                XCTFail("LOCKSTEP_REQUIRE_MODEL=1 but the real model is missing at \(path)")
            }
            throw XCTSkip("real model not found at \(path)")
        }
        return try LlamaModel(path: path)
    }
}
