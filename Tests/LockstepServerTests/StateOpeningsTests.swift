import XCTest
import Lockstep
import LockstepServer

/// `POST /v1/traces/<id>/states` without HTTP: the states a node opens are those of its trace
/// with states, recomputed on demand; malformed or out-of-range requests are refused.
final class StateOpeningsTests: XCTestCase {
    func testOpenedStatesAreTheStatesTracesStates() throws {
        let node = try Fixture.node()
        let r = try node.generate(GenerationRequest(prompt: .tokens([2, 7, 4]), maxTokens: 5))
        XCTAssertFalse(FileManager.default.fileExists(atPath: node.traceDirectory + "/" + r.traceID + "-states.trace"))
        let leafCount = try TraceIndex(path: node.tracePath(id: r.traceID)).leaves.count
        // Any order, repeats allowed: embedding, layer and sample steps.
        let steps = [leafCount - 1, 0, 3, 3, leafCount / 2]
        let openings = try node.stateOpenings(id: r.traceID, steps: steps)
        let states = try TraceIndex(path: node.tracePath(id: r.traceID + "-states"))   // written on demand by the call above
        XCTAssertEqual(openings.steps, steps)
        var total = 0
        for (k, i) in steps.enumerated() {
            let opened = try openings.state(k)
            XCTAssertTrue(opened == (try states.storedState(at: i)), "step \(i)")
            total += opened.count
        }
        XCTAssertEqual(openings.byteCount, total)
        XCTAssertEqual(try node.stateOpenings(id: r.traceID + "-states", steps: [1]).state(0), try states.storedState(at: 1))

        let refusals: [(String, [Int], NodeError.Kind, String)] = [
            (r.traceID, [leafCount], .badRequest, "field 'steps': entry 0 (\(leafCount)) is not a step of the trace's \(leafCount)"),
            (r.traceID, [0, -1], .badRequest, "entry 1 (-1) is not a step"),
            (r.traceID, [Int](repeating: 0, count: leafCount + 1), .badRequest, "\(leafCount + 1) steps asked, the trace has \(leafCount)"),
            (String(repeating: "0", count: 64), [0], .notFound, "no trace \(String(repeating: "0", count: 64)) on this node"),
            ("../traces", [0], .notFound, "'../traces' is not a trace id"),
        ]
        for (id, steps, kind, message) in refusals {
            XCTAssertThrowsError(try node.stateOpenings(id: id, steps: steps), message) {
                XCTAssertEqual(($0 as? NodeError)?.kind, kind)
                XCTAssertTrue("\($0)".contains(message), "\($0)")
            }
        }
    }

    func testRequestBodies() throws {
        XCTAssertEqual(try StateOpenings.steps(json: Array(#"{"steps": [3, 0, 3]}"#.utf8)), [3, 0, 3])
        XCTAssertEqual(try StateOpenings.steps(json: Array(#"{"steps": []}"#.utf8)), [])
        let bad: [(String, String)] = [
            ("[1, 2]", "JSON but not an object"),
            ("{\"steps\": [1", "not JSON: Unexpected end of file"),
            (#"{"steps": [1], "steps": [2]}"#, "field 'steps' is given twice"),
            (#"{"steps": [1], "samples": 2}"#, "unknown field 'samples'"),
            ("{}", "no field 'steps'"),
            (#"{"steps": [1.5]}"#, "field 'steps': expected an array of integers"),
            (#"{"steps": "1,2"}"#, "field 'steps': expected an array of integers"),
            (#"{"steps": [1e30]}"#, "field 'steps': expected an array of integers"),
        ]
        for (body, message) in bad {
            XCTAssertThrowsError(try StateOpenings.steps(json: Array(body.utf8)), body) {
                XCTAssertEqual(($0 as? NodeError)?.kind, .badRequest)
                XCTAssertTrue("\($0)".contains(message), "\(body): \($0)")
            }
        }
    }
}
