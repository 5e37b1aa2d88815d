import Foundation
import XCTest
import Lockstep
import LockstepTestSupport

final class CommandTests: XCTestCase {
    private func tinyModelPath(_ dir: URL) throws -> String {
        let path = dir.appendingPathComponent("tiny.gguf").path
        let r = try CLIRunner.run(["tiny-model", "--out", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return path
    }

    func testGenerateJSONHasTokensAndText() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelPath(dir)
        let r = try CLIRunner.run(["generate", "--model", model, "--prompt", "Hello world", "--max-tokens", "5", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let tokens = object["tokens"] as! [Int]
        XCTAssertEqual(tokens.count, 5)
        XCTAssertEqual(object["stop_reason"] as? String, "max_tokens")
        XCTAssertFalse((object["prompt_tokens"] as! [Int]).isEmpty)
        XCTAssertNotNil(object["text"] as? String)
        // More tokens than the context holds (256 positions): it stops when prompt and output
        // fill 257 tokens, and says so.
        let full = try CLIRunner.run(["generate", "--model", model, "--prompt", "Hello world", "--max-tokens", "1000", "--json"])
        XCTAssertEqual(full.status, 0, full.stderr)
        let fullObject = try JSONSerialization.jsonObject(with: Data(full.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(fullObject["stop_reason"] as? String, "context_full")
        XCTAssertEqual((fullObject["prompt_tokens"] as! [Int]).count + (fullObject["tokens"] as! [Int]).count, 257)
        XCTAssertTrue(full.stderr.contains("stopped at the context limit"), full.stderr)
        // A prompt longer than the context is refused naming both counts, with no output.
        let long = try CLIRunner.run(["generate", "--model", model, "--prompt", String(repeating: "Hello world ", count: 200), "--max-tokens", "2"])
        XCTAssertEqual(long.status, 1, long.stderr)
        XCTAssertNotNil(long.stderr.firstMatch(of: /lockstep: error: the prompt has [0-9]+ tokens, more than the context limit of 256 positions/), long.stderr)
        XCTAssertEqual(long.stdout, "")
        // Text mode streams the same tokens.
        let text = try CLIRunner.run(["generate", "--model", model, "--prompt", "Hello world", "--max-tokens", "5"])
        XCTAssertEqual(text.stdout, (object["text"] as! String) + "\n")
    }

    func testScoreJSONShapes() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelPath(dir)
        let textFile = dir.appendingPathComponent("text.txt")
        try "The capital of France is Paris. The quick brown fox.".write(to: textFile, atomically: true, encoding: .utf8)
        let r = try CLIRunner.run(["score", "--model", model, "--text-file", textFile.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        let n = (object["tokens"] as! [Int]).count
        XCTAssertEqual((object["top1"] as! [Int]).count, n - 1)
        XCTAssertEqual((object["nll"] as! [Double]).count, n - 1)
        XCTAssertGreaterThan(object["perplexity"] as! Double, 1)
        // A FIFO or a device is refused without reading (a FIFO hung waiting for a writer; /dev/zero
        // was read without bound), as is a file past the size limit (a sparse one here).
        let fifo = dir.appendingPathComponent("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let huge = dir.appendingPathComponent("huge.txt").path
        FileManager.default.createFile(atPath: huge, contents: nil)
        XCTAssertEqual(truncate(huge, 64 << 20 + 1), 0)
        for (path, reason) in [(fifo, "not a regular file"), ("/dev/zero", "not a regular file"),
                               (huge, "67108865 bytes, more than the 67108864 this file may hold")] {
            for args in [["score", "--model", model, "--text-file", path], ["bench", "--model", model, "--prompt-file", path]] {
                let r = try CLIRunner.run(args, timeout: 30)
                XCTAssertEqual(r.status, 1, r.stderr)
                XCTAssertTrue(r.stderr.contains("lockstep: error: \(path): \(reason)"), r.stderr)
            }
        }
    }

    func testInfoPrintsDigestAndBadArgumentsFail() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelPath(dir)
        let r = try CLIRunner.run(["info", "--model", model, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((object["model_digest"] as! String).count, 64)
        XCTAssertEqual(try CLIRunner.run(["info", "--model", model, "--json"]).stdout, r.stdout)   // deterministic
        XCTAssertNotEqual(try CLIRunner.run(["generate", "--model", model, "--prompt", "x", "--backend", "nope"]).status, 0)
        XCTAssertNotEqual(try CLIRunner.run(["generate", "--model", model, "--prompt", "x", "--max-tokens", "-1"]).status, 0)
        // A temperature past binary32 is named as typed (it was read as a binary32 and named 'inf').
        let hot = try CLIRunner.run(["generate", "--model", model, "--prompt", "x", "--temperature", "1e39"])
        XCTAssertEqual(hot.status, 64, hot.stderr)
        XCTAssertTrue(hot.stderr.contains("--temperature must be a number ≥ 0 and finite as a binary32 (at most 3.4028235e+38), got 1e+39"), hot.stderr)
        // A thread count out of range is an error naming it, not threads until the system refuses
        // (100000) or a trap (past Int32).
        for threads in ["0", "100000", "5000000000"] {
            let r = try CLIRunner.run(["generate", "--model", model, "--prompt", "x", "--threads", threads])
            XCTAssertFalse(r.crashed, r.stderr)
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("lockstep: error: threads must be between 1 and \(BackendRegistry.maxThreads), got \(threads)"), r.stderr)
        }
        XCTAssertNotEqual(try CLIRunner.run(["info", "--model", dir.appendingPathComponent("missing.gguf").path]).status, 0)
        // bench: a prompt file of token ids is read strictly (a word that is not an id was dropped).
        let ids = dir.appendingPathComponent("ids.txt")
        try "1 2 3 hello 5".write(to: ids, atomically: true, encoding: .utf8)
        let bench = try CLIRunner.run(["bench", "--model", model, "--prompt-file", ids.path, "--prompt-tokens", "2", "--decode-tokens", "1"])
        XCTAssertEqual(bench.status, 1)
        XCTAssertTrue(bench.stderr.contains("token 3 is 'hello', not a token id"), bench.stderr)
        XCTAssertNotEqual(try CLIRunner.run(["bench", "--model", model, "--prompt-tokens", "0"]).status, 0)
        // More positions than the context (256) are refused before any work, also past Int.max in sum.
        for decode in ["247", "9223372036854775807"] {
            let long = try CLIRunner.run(["bench", "--model", model, "--prompt-tokens", "10", "--decode-tokens", decode])
            XCTAssertEqual(long.status, 1, long.stderr)
            XCTAssertTrue(long.stderr.contains("lockstep: error: --prompt-tokens 10 and --decode-tokens \(decode) need more positions than the model's context of 256"), long.stderr)
        }
        XCTAssertEqual(try CLIRunner.run(["bench", "--model", model, "--prompt-tokens", "10", "--decode-tokens", "246"]).status, 0)
    }

    /// Output that cannot be written to stdout (a file on a full disk; here the file-size limit) is
    /// an error with exit status 1 naming the reason, not a crash (Foundation's write trapped,
    /// SIGILL) and not a silently short output with status 0.
    func testOutputThatCannotBeWrittenIsAnError() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = try tinyModelPath(dir)
        for args in [["info", "--model", model], ["generate", "--model", model, "--prompt", "Hello", "--max-tokens", "3"]] {
            let r = try BuiltProduct.run("lockstep", args, fileSizeLimit: 0)
            XCTAssertFalse(r.crashed, r.stderr)
            XCTAssertEqual(r.status, 1, r.stderr)
            XCTAssertTrue(r.stderr.contains("lockstep: error: standard output: File too large; the output is incomplete"), r.stderr)
        }
    }

    /// A tiny model too large to generate, or one that cannot be written, is a clear error: the
    /// parameter count is checked without overflow before anything is allocated (a width of 10^8
    /// used to abort on a 129 GB allocation).
    func testTinyModelRefusesOversizedSpecsAndUnwritablePaths() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("t.gguf").path
        for args in [["--dim", "100000000"], ["--dim", "4096", "--layers", "100000000000000"], ["--kv-heads", "9223372036854775807"]] {
            let r = try CLIRunner.run(["tiny-model", "--out", out] + args)
            XCTAssertFalse(r.crashed, r.stderr)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains("more than a tiny model's \(TinyModelSpec.maxParameters)"), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let toDirectory = try CLIRunner.run(["tiny-model", "--out", dir.path])
        XCTAssertEqual(toDirectory.status, 1)
        XCTAssertTrue(toDirectory.stderr.contains("\(dir.path): cannot write (Is a directory)"), toDirectory.stderr)
        // A FIFO with no reader is refused at once (it hung waiting for one) and left in place.
        let fifo = dir.appendingPathComponent("fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let toFIFO = try CLIRunner.run(["tiny-model", "--out", fifo], timeout: 30)
        XCTAssertEqual(toFIFO.status, 1, toFIFO.stderr)
        XCTAssertTrue(toFIFO.stderr.contains("\(fifo): cannot write (a FIFO with no reader)"), toFIFO.stderr)
        var st = stat()
        XCTAssertEqual(lstat(fifo, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFIFO)
        // vectors generate into a place no directory can be made: the path and the system's reason.
        let blocked = try CLIRunner.run(["vectors", "generate", "--dir", fifo + "/v"], timeout: 120)
        XCTAssertEqual(blocked.status, 1, blocked.stderr)
        XCTAssertTrue(blocked.stderr.contains("lockstep: error: \(fifo)/v/ops: cannot create the directory (Not a directory)"), blocked.stderr)
        // The count itself: the standard model's, and nil on overflow.
        let standard = TinyModelSpec.standard
        let perLayer = 2 * 64 * 64 + 2 * 64 * 2 * 16 + 3 * 64 * 128 + 2 * 64
        XCTAssertEqual(standard.parameterCount, standard.layers * perLayer + TinyModel.vocabularySize * 64 + 64)
        XCTAssertNil(TinyModelSpec(dim: Int.max / 2, heads: 1, kvHeads: 1).parameterCount)
        XCTAssertThrowsError(try TinyModel.write(TinyModelSpec(dim: 1 << 20, heads: 1, kvHeads: 1), to: out))
    }

    func testFallsBackToTheTinyModelWhenTheRealOneIsMissing() throws {
        let dir = try CLIRunner.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try CLIRunner.run(["generate", "--prompt", "Hello", "--max-tokens", "3"],
                                  environment: ["LOCKSTEP_CACHE": dir.path, "LOCKSTEP_MODEL": ""])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("built-in tiny model"), r.stderr)
        // A file named by LOCKSTEP_MODEL that does not exist is an error, not the tiny model.
        let missing = dir.appendingPathComponent("typo.gguf").path
        let named = try CLIRunner.run(["generate", "--prompt", "Hello", "--max-tokens", "3"],
                                      environment: ["LOCKSTEP_CACHE": dir.path, "LOCKSTEP_MODEL": missing])
        XCTAssertEqual(named.status, 1, named.stderr)
        XCTAssertTrue(named.stderr.contains("lockstep: error: \(missing): no such file (named by LOCKSTEP_MODEL;"), named.stderr)
        XCTAssertEqual(named.stdout, "")
        // A cache directory that cannot be made (here under a regular file) is an error naming it
        // and the reason (it printed Foundation's error object), with nothing left behind.
        let blocker = dir.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: blocker)
        let cache = blocker.path + "/cache"
        let blocked = try CLIRunner.run(["info"], environment: ["LOCKSTEP_CACHE": cache, "LOCKSTEP_MODEL": ""])
        XCTAssertEqual(blocked.status, 1, blocked.stderr)
        XCTAssertTrue(blocked.stderr.contains("lockstep: error: \(cache): cannot create the directory (Not a directory), the model cache for the built-in tiny model; set LOCKSTEP_CACHE"),
                      blocked.stderr)
        // A tiny model that cannot be written whole (the file-size limit, as a full disk): the half-written file is removed.
        let small = dir.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: small, withIntermediateDirectories: false)
        let limited = try BuiltProduct.run("lockstep", ["info"], environment: ["LOCKSTEP_CACHE": small.path, "LOCKSTEP_MODEL": ""],
                                           fileSizeLimit: 1)
        XCTAssertEqual(limited.status, 1, limited.stderr)
        XCTAssertTrue(limited.stderr.contains("bytes written: File too large)"), limited.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: small.path), [])
    }
}
