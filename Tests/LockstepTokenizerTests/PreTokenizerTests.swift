import XCTest
@testable import LockstepTokenizer

/// The hand-written pre-tokenizers against Python `regex` splits recorded in the fixture.
final class PreTokenizerTests: XCTestCase {
    private func split(_ text: String, _ pre: PreTokenizer) -> [String] {
        let s = Array(text.unicodeScalars)
        var ranges: [Range<Int>] = []
        pre.split(s, 0..<s.count, into: &ranges)
        return ranges.map { r in
            var v = String.UnicodeScalarView()
            v.append(contentsOf: s[r])
            return String(v)
        }
    }

    func testSplitsMatchPythonRegex() throws {
        let fixture = try ReferenceFixture.load()
        let kinds: [(String, PreTokenizer)] = [("gpt2", .gpt2), ("smollm", .smollm), ("llama3", .llama3)]
        for c in fixture.cases {
            for (name, pre) in kinds {
                let expected = try XCTUnwrap(c.pretokens[name])
                let got = split(c.text, pre)
                XCTAssertEqual(got.map(scalars), expected.map(scalars), "\(name) split of \(c.text.debugDescription): \(got)")
            }
        }
    }

    func testSplitsOfProseMatchConcatenation() throws {
        let text = try ReferenceFixture.load().prose.text
        for pre in [PreTokenizer.gpt2, .smollm, .llama3] {
            XCTAssertEqual(scalars(split(text, pre).joined()), scalars(text))
        }
    }

    /// A few splits worked out by hand from the patterns.
    func testHandWorkedSplits() {
        // gpt2: `\s+(?!\S)` leaves the last space of a run to prefix the next word; contractions split off.
        XCTAssertEqual(split("a   b", .gpt2), ["a", "  ", " b"])
        XCTAssertEqual(split("I'M here's", .gpt2), ["I", "'", "M", " here", "'s"])
        XCTAssertEqual(split("x  \n", .gpt2), ["x", "  \n"])
        // smollm: each digit alone, and the space before a digit stays alone.
        XCTAssertEqual(split("ab 123c", .smollm), ["ab", " ", "1", "2", "3", "c"])
        // llama3: case-insensitive contractions, numbers in threes, newline runs.
        XCTAssertEqual(split("I'M 12345", .llama3), ["I", "'M", " ", "123", "45"])
        XCTAssertEqual(split("a\n\n  b", .llama3), ["a", "\n\n", " ", " b"])
        XCTAssertEqual(split("(hi)!\n", .llama3), ["(hi", ")!\n"])
    }
}
