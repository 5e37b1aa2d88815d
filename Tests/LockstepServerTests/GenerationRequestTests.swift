import XCTest
import Lockstep
import LockstepServer

/// `POST /v1/generate` bodies: every field read, every malformed body refused with the field named.
final class GenerationRequestTests: XCTestCase {
    private func parse(_ json: String) throws(NodeError) -> GenerationRequest { try GenerationRequest(json: Array(json.utf8)) }

    private func refusal(_ json: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            let r = try parse(json)
            XCTFail("accepted \(json) as \(r)", file: file, line: line)
            return ""
        } catch {
            XCTAssertEqual(error.kind, .badRequest, file: file, line: line)
            XCTAssertEqual(error.httpStatus, 400, file: file, line: line)
            return error.description
        }
    }

    func testFieldsAndDefaults() throws {
        let d = try parse(#"{"prompt": "hi"}"#)
        XCTAssertEqual(d, GenerationRequest(prompt: .text("hi")))
        XCTAssertEqual(d.maxTokens, 32)
        XCTAssertEqual(d.sampler, SamplerSettings(temperature: 0, seed: 0))
        let all = try parse(#"{"prompt_tokens": [1, 2, 3], "max_tokens": 7, "temperature": 0.5, "seed": 18446744073709551615, "trace_activations": true, "stream": true}"#)
        XCTAssertEqual(all, GenerationRequest(prompt: .tokens([1, 2, 3]), maxTokens: 7, sampler: SamplerSettings(temperature: 0.5, seed: UInt64.max),
                                              traceActivations: true, stream: true))
        XCTAssertEqual(try parse(#"{"chat": "hello"}"#).prompt, .chat("hello"))
    }

    func testMalformedBodiesNameTheFieldAtFault() {
        let cases: [(String, String)] = [
            ("", "not JSON"),
            ("[1, 2]", "JSON but not an object"),
            (#"{"prompt": "a""#, "not JSON: Unexpected end of file"),
            (#"{"prompt": "a", "max_token": 3}"#, "unknown field 'max_token'"),
            // Parsers differ on which copy of a repeated field counts: neither is taken.
            (#"{"prompt": "a", "max_tokens": 1, "max_tokens": 5000}"#, "field 'max_tokens' is given twice"),
            (#"{"prompt": 5, "prompt": "a"}"#, "field 'prompt' is given twice"),
            (#"{"prompt": "a", "p\u0072ompt": "b"}"#, "field 'prompt' is given twice"),
            (#"{"prompt": 5}"#, "field 'prompt': expected a string, got 5"),
            (#"{"prompt": "a", "max_tokens": "3"}"#, "field 'max_tokens': expected an integer"),
            (#"{"prompt": "a", "max_tokens": 2.5}"#, "field 'max_tokens': expected an integer, got 2.5"),
            (#"{"prompt": "a", "max_tokens": -1}"#, "field 'max_tokens': must be ≥ 0, got -1"),
            (#"{"prompt": "a", "temperature": -0.5}"#, "field 'temperature': must be a finite number ≥ 0"),
            (#"{"prompt": "a", "temperature": 1e300}"#, "field 'temperature': must be a finite number ≥ 0"),
            (#"{"prompt": "a", "seed": -1}"#, "field 'seed': expected an integer in 0 … 2^64 − 1, got -1"),
            (#"{"prompt": "a", "stream": 1}"#, "field 'stream': expected true or false"),
            (#"{"prompt_tokens": [1, -2]}"#, "field 'prompt_tokens': entry 1 (-2) is not a token id"),
            (#"{"prompt_tokens": [1, 4294967296]}"#, "field 'prompt_tokens': entry 1 (4294967296) is not a token id"),
            (#"{"prompt_tokens": [1, "x"]}"#, "field 'prompt_tokens': expected an array of token ids"),
            (#"{}"#, "no prompt"),
            (#"{"prompt": "a", "chat": "b"}"#, "only one of"),
        ]
        for (body, expected) in cases {
            let message = refusal(body)
            XCTAssertTrue(message.contains(expected), "\(body): \(message)")
        }
        // A field repeated inside a value is no repeat of the request's own fields.
        XCTAssertEqual(try GenerationRequest(json: Array(#"{"prompt": "{\"prompt\": 1, \"prompt\": 2}", "max_tokens": 3}"#.utf8)).maxTokens, 3)
    }
}
