import Foundation
import XCTest
import LockstepTestSupport
import Lockstep

/// The built `lockstep-verify` (and `lockstep generate --inject-fault`) on honest, faulted,
/// forged and corrupted inputs: never exit 0 on a bad one, never crash.
final class CLIVerifyTests: XCTestCase {
    func testHonestFaultedAndDisputeThroughTheBinaries() throws {
        let m = Fixture.modelPath, d = Fixture.dir
        let honest = d.appendingPathComponent("cli-h.trace").path, bad = d.appendingPathComponent("cli-f.trace").path
        for (path, extra) in [(honest, [String]()), (bad, ["--inject-fault", "3:1"])] {
            let g = try Binary.run("lockstep", ["generate", "--model", m, "--prompt", "hello world", "--max-tokens", "6", "--trace", path, "--trace-activations"] + extra)
            XCTAssertEqual(g.status, 0, g.stderr)
        }
        for backend in BackendRegistry.names where (try? BackendRegistry.make(backend)) != nil {
            let r = try Binary.verify(["replay", "--model", m, "--trace", honest, "--backend", backend, "--json"])
            XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        }
        // Human output: the verdict first, then durations with their unit (JSON keeps raw seconds).
        let human = try Binary.verify(["replay", "--model", m, "--trace", honest])
        XCTAssertEqual(human.status, 0, human.stdout + human.stderr)
        let lines = human.stdout.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.first?.hasPrefix("OK: all ") == true, human.stdout)
        let durations = lines.filter { $0.contains("_seconds: ") }
        XCTAssertEqual(durations.count, 4, human.stdout)
        for line in durations {
            XCTAssertNotNil(line.wholeMatch(of: /[a-z_]+_seconds: [0-9]+\.[0-9]{4} s/), line)
        }
        let r = try Binary.verify(["replay", "--model", m, "--trace", bad, "--json"])
        XCTAssertEqual(r.status, 1)
        let div = Binary.json(r)["divergence"] as? [String: Any]
        XCTAssertEqual(div?["position"] as? Int, 3); XCTAssertEqual(div?["layer"] as? Int, 1)
        let spot = try Binary.verify(["spot-check", "--model", m, "--trace", honest, "--samples", "16", "--json"])
        XCTAssertEqual(spot.status, 0, spot.stdout + spot.stderr)
        let o = Binary.json(spot)
        let parts = ["trace_read_seconds", "open_seconds", "recompute_seconds"].compactMap { o[$0] as? Double }
        XCTAssertEqual(parts.count, 3, spot.stdout)
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(o["verify_seconds"] as? Double), parts.reduce(0, +))
        // Enough samples to be sure to hit the one faulted step (Fiat–Shamir, so deterministic).
        let caught = try Binary.verify(["spot-check", "--model", m, "--trace", bad, "--samples", "2000", "--json"])
        XCTAssertEqual(caught.status, 1, caught.stdout + caught.stderr)
        let spotDiv = Binary.json(caught)["divergence"] as? [String: Any]
        XCTAssertEqual(spotDiv?["position"] as? Int, 3); XCTAssertEqual(spotDiv?["layer"] as? Int, 1)
        let proof = d.appendingPathComponent("cli.proof").path
        let dsp = try Binary.verify(["dispute", "--model", m, bad, honest, "--proof-out", proof, "--json"])
        XCTAssertEqual(dsp.status, 1)
        XCTAssertEqual(Binary.json(dsp)["right_trace"] as? String, honest)
        XCTAssertEqual(try Binary.verify(["dispute", "--model", m, honest, bad]).status, 0)
        // A FIFO with no reader as --proof-out is refused at once (it hung waiting for a reader).
        let fifo = d.appendingPathComponent("cli-proof-fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let toFIFO = try Binary.verify(["dispute", "--model", m, bad, honest, "--proof-out", fifo])
        XCTAssertEqual(toFIFO.status, 2, toFIFO.stderr)
        XCTAssertTrue(toFIFO.stderr.contains("the fraud proof: \(fifo): cannot write (a FIFO with no reader)"), toFIFO.stderr)
        // The proof never overwrites an input (here trace B, the evidence against its node).
        let before = try Data(contentsOf: URL(fileURLWithPath: bad))
        let overwrite = try Binary.verify(["dispute", "--model", m, honest, bad, "--proof-out", bad])
        XCTAssertEqual(overwrite.status, 2)
        XCTAssertTrue(overwrite.stderr.contains("the proof would overwrite it"), overwrite.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: bad)), before)
        XCTAssertEqual(try Binary.verify(["check-proof", "--model", m, proof]).status, 0)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: proof)))
        bytes[bytes.count / 2] ^= 4
        let flipped = d.appendingPathComponent("cli-flipped.proof").path
        try Data(bytes).write(to: URL(fileURLWithPath: flipped))
        XCTAssertEqual(try Binary.verify(["check-proof", "--model", m, flipped]).status, 1)
        // A proof file larger than any proof for the model is refused unread (2, with the bound).
        let huge = d.appendingPathComponent("cli-huge.proof").path
        XCTAssertTrue(FileManager.default.createFile(atPath: huge, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: huge))
        try handle.truncate(atOffset: 1 << 40)
        try handle.close()
        let refused = try Binary.verify(["check-proof", "--model", m, huge])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("\(1 << 40) bytes, more than the \(FraudProof.maxByteCount(for: Fixture.model.config)) bytes"), refused.stderr)
    }

    /// A verifier ended by SIGTERM while it fetches a trace from a node removes what it fetched
    /// and exits with 128 + 15, as a shell reports a terminated command.
    func testATerminatedVerifierLeavesNoDownloadBehind() throws {
        let trickling = try RawHTTPServer { fd in
            _ = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n".withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            for _ in 0 ..< 100 where "AAAA".withCString({ send(fd, $0, 4, Int32(MSG_NOSIGNAL)) }) > 0 { usleep(100_000) }
        }
        let tmp = try freshTemporaryDirectory("terminated")
        let r = try BuiltProduct.run("lockstep-verify", ["replay", "--model", Fixture.modelPath, "--trace", "http://127.0.0.1:\(trickling.port)/v1/traces/x"],
                                     environment: ["TMPDIR": tmp.path], timeout: 60, terminateAfter: 1)
        XCTAssertFalse(r.crashed, "ended by the signal itself")
        XCTAssertEqual(r.status, 128 + SIGTERM, r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [])
    }

    /// A node that never answers holds the verifier no longer than `--fetch-timeout`: exit 2 with
    /// the URL and the bound, nothing left behind; a bound outside 1…86400 s is unusable input (2).
    func testAFetchFromASilentNodeEndsAtTheFetchTimeout() throws {
        let silent = try RawHTTPServer { _ in sleep(10) }
        let url = "http://127.0.0.1:\(silent.port)/v1/traces/x"
        let tmp = try freshTemporaryDirectory("silent")
        let started = Date()
        let r = try BuiltProduct.run("lockstep-verify", ["replay", "--model", Fixture.modelPath, "--trace", url, "--fetch-timeout", "1"],
                                     environment: ["TMPDIR": tmp.path], timeout: 60)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("127.0.0.1:\(silent.port)") && r.stderr.contains("no complete answer within 1 s"), r.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 20, "bounded by --fetch-timeout, not by the node")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [])
        let zero = try BuiltProduct.run("lockstep-verify", ["replay", "--model", Fixture.modelPath, "--trace", url, "--fetch-timeout", "0"])
        XCTAssertEqual(zero.status, 2, zero.stderr)
        XCTAssertTrue(zero.stderr.contains("--fetch-timeout: 0 is not a number of seconds from 1 to 86400"), zero.stderr)
    }

    /// A download that cannot be written (here the file-size limit, as a full disk would) ends
    /// with exit 2 naming the URL, the file and the system's reason, and leaves nothing behind.
    func testADownloadThatCannotBeWrittenIsUnusableInput() throws {
        let large = try RawHTTPServer { fd in
            _ = "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n".withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
            let chunk = [UInt8](repeating: 65, count: 10_000)
            for _ in 0 ..< 100 where send(fd, chunk, chunk.count, Int32(MSG_NOSIGNAL)) > 0 {}
        }
        let tmp = try freshTemporaryDirectory("unwritable"), url = "http://127.0.0.1:\(large.port)/v1/traces/x"
        let r = try BuiltProduct.run("lockstep-verify", ["replay", "--model", Fixture.modelPath, "--trace", url],
                                     environment: ["TMPDIR": tmp.path], timeout: 60, fileSizeLimit: 64)
        XCTAssertFalse(r.crashed, r.stderr)
        XCTAssertEqual(r.status, 2, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(url): the download cannot be written to \(tmp.path)/lockstep-verify-") && r.stderr.contains(": File too large"), r.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path), [])
    }

    /// A report that cannot be written to stdout (the file-size limit, as a full disk) turns a
    /// claim that holds into exit 2 with the reason (Foundation's write trapped, SIGILL); a false
    /// claim stays exit 1.
    func testAReportThatCannotBeWrittenIsNotASilentPass() throws {
        let (honest, _) = try Fixture.trace("cli-unwritten.trace", states: false)
        let (faulty, _) = try Fixture.trace("cli-unwritten-faulty.trace", fault: FaultInjection(position: 4, layer: 1), states: false)
        for (trace, status) in [(honest, Int32(2)), (faulty, 1)] {
            for json in [false, true] {
                let r = try BuiltProduct.run("lockstep-verify", ["replay", "--model", Fixture.modelPath, "--trace", trace] + (json ? ["--json"] : []),
                                             fileSizeLimit: 0)
                XCTAssertFalse(r.crashed, r.stderr)
                XCTAssertEqual(r.status, status, r.stderr)
                XCTAssertTrue(r.stderr.contains("lockstep-verify: error: standard output: File too large; the report is incomplete"), r.stderr)
            }
        }
    }

    /// A trace argument with a scheme other than http:// is unusable input (2) that says so (it was
    /// taken as a file path: "cannot open (No such file or directory)").
    func testAnAddressThatIsNotHTTPIsNamedAsSuch() throws {
        for (argument, scheme) in [("https://127.0.0.1:1/v1/traces/x", "https://"), ("file:///tmp/x.trace", "file://")] {
            let r = try BuiltProduct.run("lockstep-verify", ["replay", "--model", Fixture.modelPath, "--trace", argument])
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertTrue(r.stderr.contains("'\(argument)': \(scheme) addresses are not fetched: only http://"), r.stderr)
        }
    }

    /// A thread count out of range is unusable input (2) naming it, not a trap (past Int32).
    func testAThreadCountOutOfRangeIsUnusableInput() throws {
        let (honest, _) = try Fixture.trace("cli-threads.trace", states: false)
        for threads in ["0", "257", "5000000000"] {
            let r = try BuiltProduct.run("lockstep-verify", ["replay", "--model", Fixture.modelPath, "--trace", honest, "--threads", threads])
            XCTAssertFalse(r.crashed, r.stderr)
            XCTAssertEqual(r.status, 2, r.stderr)
            XCTAssertTrue(r.stderr.contains("threads must be between 1 and 256, got \(threads)"), r.stderr)
        }
    }

    func testForgedAndCorruptedInputsNeverVerify() throws {
        let m = Fixture.modelPath, d = Fixture.dir
        let (hPath, h) = try Fixture.trace("cli-base.trace", maxTokens: 4, states: false)
        let (_, other) = try Fixture.trace("cli-other.trace", maxTokens: 4, prompt: [2, 2, 7], states: false)
        let honestBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: hPath)))
        let c = h.signed.commitment, request = c.request
        let attacker = NodeKey.generate().privateKey
        var cases: [(String, String)] = []
        func write(_ name: String, _ bytes: [UInt8]) throws {
            let p = d.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: p))
            cases.append((name, p))
        }
        func forge(_ name: String, request r: TraceRequest = request, digests: [Digest], tokens: [TokenID]) throws {
            let p = d.appendingPathComponent(name).path
            try forgeTrace(path: p, request: r, stepDigests: digests, outputTokens: tokens, key: attacker)
            cases.append((name, p))
        }
        let digests = h.leaves.map(\.stepDigest)
        // Edited output token, re-signed by the forger (a consistent, validly signed file).
        var tokens = c.outputTokens; tokens[1] = (tokens[1] + 1) % 50
        try forge("edited-tokens-resigned.trace", digests: digests, tokens: tokens)
        // Swapped leaves and an edited leaf, re-chained and re-signed.
        var swapped = digests; swapped.swapAt(4, 7)
        try forge("swapped-leaves.trace", digests: swapped, tokens: c.outputTokens)
        var edited = digests; edited[9] = SHA256Hasher.hash([9])
        try forge("edited-leaf.trace", digests: edited, tokens: c.outputTokens)
        // Another model's digest.
        let otherModel = try TraceRequest(modelDigest: SHA256Hasher.hash([1]), shape: request.shape, promptTokens: request.promptTokens,
                                          sampler: .greedy, maxTokens: Int(request.maxTokens))
        try forge("other-model.trace", request: otherModel, digests: digests, tokens: c.outputTokens)
        // The footer of a trace for another prompt on this trace's records.
        let footerStart = honestBytes.count - (1 + 4 + c.encoding.count + 64 + 32 + 16)
        let otherBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: d.appendingPathComponent("cli-other.trace").path)))
        let oc = other.signed.commitment
        let otherFooter = Array(otherBytes[(otherBytes.count - (1 + 4 + oc.encoding.count + 64 + 32 + 16))...])
        var replayed = Array(honestBytes[..<footerStart]) + otherFooter
        // Fix the trailer's footer offset so only the commitment is wrong.
        let off = UInt64(footerStart)
        for i in 0 ..< 8 { replayed[replayed.count - 16 + i] = UInt8((off >> (8 * UInt64(i))) & 0xFF) }
        try write("other-prompt-commitment.trace", replayed)
        // Bad signature, edited token in the signed commitment, truncation, random bytes, empty.
        var badSig = honestBytes; badSig[honestBytes.count - 16 - 32 - 5] ^= 0x10
        try write("bad-signature.trace", badSig)
        var tokenEdit = honestBytes; tokenEdit[footerStart + 5 + c.encoding.count - 32 - 32 - 8 - 4] ^= 1
        try write("edited-token-in-file.trace", tokenEdit)
        try write("truncated.trace", Array(honestBytes[..<(honestBytes.count * 2 / 3)]))
        var g = SplitMix64(seed: 5)
        try write("random.trace", (0 ..< 4096).map { _ in UInt8.random(in: 0 ... 255, using: &g) })
        try write("empty.trace", [])
        try write("magic-only.trace", Array("LKSTRACE".utf8) + [1, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])

        for (name, path) in cases {
            for args in [["replay", "--model", m, "--trace", path], ["spot-check", "--model", m, "--trace", path, "--samples", "4"],
                         ["dispute", "--model", m, path, hPath], ["audit", "--model", m, "--trace", path, "--products", "all"]] {
                let r = try Binary.verify(args + ["--json"])
                XCTAssertFalse(r.crashed, "\(name) \(args[0]) crashed")
                XCTAssertTrue(r.status == 1 || r.status == 2, "\(name) \(args[0]): exit \(r.status)\n\(r.stdout)\(r.stderr)")
                XCTAssertFalse((r.stdout + r.stderr).isEmpty, "\(name) \(args[0]): no reason given")
            }
        }
        // Model files: another model, a missing model, a random file.
        for model in [Fixture.otherModelPath, d.appendingPathComponent("missing.gguf").path, d.appendingPathComponent("random.trace").path] {
            for command in ["replay", "audit"] {
                let r = try Binary.verify([command, "--model", model, "--trace", hPath])
                XCTAssertEqual(r.status, 2, r.stderr); XCTAssertFalse(r.crashed)
            }
        }
        // A prover's text reaches the terminal with its control characters written out, so it
        // cannot clear the screen or redraw the verdict.
        let escaping = try TraceRequest(contractVersion: "0.1\u{1B}[2J\u{1B}[HOK", modelDigest: Fixture.digest, shape: request.shape,
                                        promptTokens: request.promptTokens, sampler: .greedy, maxTokens: Int(request.maxTokens))
        let escapingPath = d.appendingPathComponent("cli-escaping.trace").path
        try forgeTrace(path: escapingPath, request: escaping, stepDigests: digests, outputTokens: c.outputTokens, key: attacker)
        let escaped = try Binary.verify(["replay", "--model", m, "--trace", escapingPath])
        XCTAssertEqual(escaped.status, 2)
        XCTAssertTrue(escaped.stderr.contains("0.1\\u{1B}[2J\\u{1B}[HOK"), escaped.stderr)
        XCTAssertFalse(escaped.stderr.unicodeScalars.contains("\u{1B}"), escaped.stderr)
        // A FIFO in place of a trace, a proof or a model is refused at once, not waited on.
        let fifo = d.appendingPathComponent("cli-fifo").path
        unlink(fifo)
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for args in [["replay", "--model", m, "--trace", fifo], ["check-proof", "--model", m, fifo], ["replay", "--model", fifo, "--trace", hPath]] {
            let r = try Binary.run("lockstep-verify", args, timeout: 60)
            XCTAssertEqual(r.status, 2, "\(args)")
            XCTAssertTrue(r.stderr.contains("not a regular file"), r.stderr)
        }
        // Bad arguments are unusable input too.
        XCTAssertEqual(try Binary.verify(["replay", "--trace", hPath]).status, 2)
        XCTAssertEqual(try Binary.verify(["spot-check", "--model", m, "--trace", hPath, "--samples", "0"]).status, 2)
        let huge = try Binary.verify(["spot-check", "--model", m, "--trace", hPath, "--samples", "99999999999"])
        XCTAssertEqual(huge.status, 2)
        XCTAssertTrue(huge.stderr.contains("--samples must be between 1 and \(SpotCheck.maxSamples)"), huge.stderr)
        XCTAssertEqual(try Binary.verify(["check-proof", "--model", m, d.appendingPathComponent("random.trace").path]).status, 1)
    }
}
