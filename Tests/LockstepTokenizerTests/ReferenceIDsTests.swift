import Foundation
import XCTest
@testable import LockstepTokenizer

/// The real model's tokenizer against ids made by the reference Python tokenizer.
final class ReferenceIDsTests: XCTestCase {
    func testFixtureHasEnoughCases() throws {
        let fixture = try ReferenceFixture.load()
        XCTAssertGreaterThanOrEqual(fixture.cases.count, 40)
        XCTAssertTrue(fixture.cases.contains { $0.text.isEmpty })
    }

    func testIDsMatchReference() throws {
        let tok = try TestModel.tokenizer()
        let fixture = try ReferenceFixture.load()
        for c in fixture.cases {
            let ids = tok.encode(c.text, addSpecial: false, parseSpecial: false)
            XCTAssertEqual(ids, c.ids, "ids differ for \(c.text.debugDescription)")
        }
    }

    /// One shared tokenizer used from many threads at once gives the same ids.
    func testConcurrentEncodingIsDeterministic() throws {
        let tok = try TestModel.tokenizer()
        let cases = try ReferenceFixture.load().cases
        let results = ResultBox(count: cases.count * 4)
        DispatchQueue.concurrentPerform(iterations: cases.count * 4) { i in
            results.set(i, tok.encode(cases[i % cases.count].text, addSpecial: false))
        }
        for i in 0..<(cases.count * 4) {
            XCTAssertEqual(results.get(i), cases[i % cases.count].ids)
        }
    }

    func testDecodeRoundTrips() throws {
        let tok = try TestModel.tokenizer()
        let fixture = try ReferenceFixture.load()
        for c in fixture.cases {
            let decoded = tok.decode(c.ids)
            XCTAssertEqual(scalars(decoded), scalars(c.text), "decode(ids) differs for \(c.text.debugDescription)")
            let round = tok.decode(tok.encode(c.text, addSpecial: false))
            XCTAssertEqual(scalars(round), scalars(c.text), "decode(encode(s)) differs for \(c.text.debugDescription)")
        }
    }

    func testProseMatchesReference() throws {
        let tok = try TestModel.tokenizer()
        let prose = try ReferenceFixture.load().prose
        XCTAssertEqual(tok.encode(prose.text, addSpecial: false), prose.ids)
        XCTAssertEqual(scalars(tok.decode(prose.ids)), scalars(prose.text))
    }

    /// Encode speed on ~11 KB of prose (reported, not asserted beyond a generous bound).
    func testEncodeSpeed() throws {
        let tok = try TestModel.tokenizer()
        let text = try ReferenceFixture.load().prose.text
        var best = Double.infinity
        var ids: [TokenID] = []
        for _ in 0..<5 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            ids = tok.encode(text, addSpecial: false)
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            best = min(best, dt)
        }
        let kb = Double(text.utf8.count) / 1024
        print(String(format: "encode speed: %.1f KB -> %d tokens in %.2f ms (best of 5): %.0f KB/s, %.0f tokens/s",
                     kb, ids.count, best * 1000, kb / best, Double(ids.count) / best))
        XCTAssertLessThan(best, 5.0, "encoding 11 KB took \(best) s")
    }
}

/// Thread-safe slots for results computed concurrently.
private final class ResultBox: @unchecked Sendable {
    private var values: [[TokenID]]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ v: [TokenID]) { lock.lock(); values[i] = v; lock.unlock() }
    func get(_ i: Int) -> [TokenID] { lock.lock(); defer { lock.unlock() }; return values[i] }
}
