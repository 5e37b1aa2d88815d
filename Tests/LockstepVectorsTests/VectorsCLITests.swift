import Foundation
import XCTest
import LockstepTestSupport

/// `lockstep vectors run` and `generate` as a user runs them.
final class VectorsCLITests: XCTestCase {
    private func lockstep(_ arguments: [String]) throws -> BuiltProduct.Result {
        try BuiltProduct.run("lockstep", arguments)
    }

    func testRunPrintsTheTableAndPasses() throws {
        let r = try lockstep(["vectors", "run", "--backend", "reference", "--dir", VectorsFixture.directory, "--only", "ops/"])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("vector group"), r.stdout)
        XCTAssertTrue(r.stdout.contains("ops/matmul_q4_1"), r.stdout)
        XCTAssertTrue(r.stdout.contains(" 0 failed"), r.stdout)
    }

    func testRunExitsOneNamingTheFailingVector() throws {
        let dir = try VectorsFixture.copy(["ops/matmul_q8_0.json"]) { _, text in
            text = text.replacingOccurrences(of: "\"hex\": \"64b117c2\"", with: "\"hex\": \"65b117c2\"")
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try lockstep(["vectors", "run", "--backend", "reference", "--dir", dir])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stdout.contains("FAIL ops/matmul_q8_0 #1 [reference]"), r.stdout)
        let j = try lockstep(["vectors", "run", "--backend", "reference", "--dir", dir, "--json"])
        XCTAssertEqual(j.status, 1)
        let object = try JSONSerialization.jsonObject(with: Data(j.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(object?["failed"] as? Int, 1)
    }

    func testErrorsAreReported() throws {
        let r = try lockstep(["vectors", "run", "--backend", "nonesuch", "--dir", VectorsFixture.directory])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("lockstep: error: unknown backend 'nonesuch'"), r.stderr)
        let empty = try VectorsFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let e = try lockstep(["vectors", "run", "--dir", empty])
        XCTAssertEqual(e.status, 1)
        XCTAssertTrue(e.stderr.contains("no vector files"), e.stderr)
    }
}
