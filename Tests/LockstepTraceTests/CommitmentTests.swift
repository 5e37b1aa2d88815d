import Foundation
import XCTest
import Lockstep
@testable import LockstepTrace

final class CommitmentTests: XCTestCase {
    private let shape = try! ModelShape(dim: 576, vocabularySize: 49152, layers: 30)

    private func commitment(temperature: Float = 0.7, seed: UInt64 = .max, output: [TokenID] = [3, 1, 4]) throws -> Commitment {
        let request = try TraceRequest(modelDigest: sha("model"), shape: shape, promptTokens: [1, 2, 3], sampler: SamplerSettings(temperature: temperature, seed: seed), maxTokens: 5)
        return try Commitment(request: request, outputTokens: output, leafCount: 123, root: sha("root"), finalChain: sha("chain"))
    }

    func testEncodingLayout() throws {
        let c = try commitment(temperature: 0, seed: 0x0102030405060708)
        var expected = Array("lockstep.commitment.v1".utf8) + [0]
        expected += [3, 0, 0, 0] + Array("0.1".utf8) + sha("model").bytes
        expected += [0x40, 0x02, 0, 0, 0x00, 0xC0, 0, 0, 30, 0, 0, 0]  // dim 576, vocab 49152, layers 30
        expected += [3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0]  // prompt
        expected += [0, 0, 0, 0] + [8, 7, 6, 5, 4, 3, 2, 1] + [5, 0, 0, 0]  // temperature bits, seed, max tokens
        expected += [3, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0]  // output
        expected += [123, 0, 0, 0, 0, 0, 0, 0] + sha("root").bytes + sha("chain").bytes
        XCTAssertEqual(c.encoding, expected)
        XCTAssertEqual(try Commitment(encoding: expected), c)
        // Request digest and chain start as specified.
        let r = c.request
        XCTAssertEqual(r.digest, SHA256Hasher.hash(Array("lockstep.request.v1".utf8) + [0] + r.encoding))
        XCTAssertEqual(r.chainStart, SHA256Hasher.hash(Array("lockstep.chain.v1".utf8) + [0] + r.digest.bytes))
        XCTAssertEqual(Array(expected[23 ..< expected.count - 4 - 12 - 8 - 64]), r.encoding)
    }

    func testDecodingRejectsMalformedEncodings() throws {
        let bytes = try commitment().encoding
        for n in 0 ..< bytes.count {
            XCTAssertThrowsError(try Commitment(encoding: Array(bytes[..<n])), "prefix \(n)")
        }
        XCTAssertThrowsError(try Commitment(encoding: bytes + [0])) { XCTAssertTrue("\($0)".contains("trailing")) }
        var b = bytes
        b[0] ^= 1
        XCTAssertThrowsError(try Commitment(encoding: b)) { XCTAssertTrue("\($0)".contains("tag")) }
        // A huge token count: refused before any allocation.
        b = bytes
        let countOffset = 23 + 4 + 3 + 32 + 12
        b.replaceSubrange(countOffset ..< countOffset + 4, with: [0xFF, 0xFF, 0xFF, 0x00])
        XCTAssertThrowsError(try Commitment(encoding: b))
        // A contract version length of 0 or beyond 64.
        b = bytes
        b[23] = 0
        XCTAssertThrowsError(try Commitment(encoding: b))
        b[23] = 65
        XCTAssertThrowsError(try Commitment(encoding: b))
        // Invalid field values.
        XCTAssertThrowsError(try TraceRequest(modelDigest: sha("m"), shape: shape, promptTokens: [], temperatureBits: 0, seed: 0, maxTokens: 1))
        XCTAssertThrowsError(try TraceRequest(modelDigest: sha("m"), shape: shape, promptTokens: [-1], temperatureBits: 0, seed: 0, maxTokens: 1))
        XCTAssertThrowsError(try TraceRequest(modelDigest: sha("m"), shape: shape, promptTokens: [1], temperatureBits: 0, seed: 0, maxTokens: -1))
        XCTAssertThrowsError(try TraceRequest(contractVersion: "", modelDigest: sha("m"), shape: shape, promptTokens: [1], temperatureBits: 0, seed: 0, maxTokens: 1))
        XCTAssertThrowsError(try ModelShape(dim: 0, vocabularySize: 1, layers: 1))
        XCTAssertThrowsError(try ModelShape(dim: 1, vocabularySize: (1 << 24) + 1, layers: 1))
        XCTAssertThrowsError(try ModelShape(dim: 1, vocabularySize: 1, layers: 1025))
        // A NaN temperature round-trips as bits but gives no sampler.
        let nan = try TraceRequest(modelDigest: sha("m"), shape: shape, promptTokens: [1], temperatureBits: Float.nan.bitPattern, seed: 0, maxTokens: 1)
        XCTAssertNil(nan.sampler)
        // Such a commitment still has a JSON form (the temperature by its bits only) that round-trips.
        let nanCommitment = try Commitment(request: nan, outputTokens: [], leafCount: 0, root: sha("r"), finalChain: sha("c"))
        XCTAssertNil(nanCommitment.jsonObject["temperature"])
        XCTAssertEqual(try Commitment(jsonObject: nanCommitment.jsonObject), nanCommitment)
        // A leaf count above 2^63 − 1 is refused (it could never be a real trace).
        XCTAssertThrowsError(try Commitment(request: nan, outputTokens: [], leafCount: .max, root: sha("r"), finalChain: sha("c")))
    }

    func testJSONRoundTripIsExact() throws {
        let key = TraceFixtures.key
        for t: Float in [0, 0.7, 1e-30, Float(bitPattern: 1), 3.4e38, 1] {
            for seed: UInt64 in [0, 1 << 53 + 1, .max] {
                let signed = try commitment(temperature: t, seed: seed).signed(with: key)
                let decoded = try SignedCommitment(json: signed.json)
                XCTAssertEqual(decoded, signed, "temperature \(t) seed \(seed)")
                XCTAssertEqual(try SignedCommitment(jsonObject: signed.jsonObject), signed)
                XCTAssertNoThrow(try decoded.verifySignature())
            }
        }
        let signed = try commitment().signed(with: key)
        var o = signed.jsonObject
        XCTAssertEqual(Set(o.keys), Set(Commitment.jsonKeys + ["signature", "public_key"]))
        o["temperature"] = 0.5
        XCTAssertThrowsError(try SignedCommitment(jsonObject: o)) { XCTAssertTrue("\($0)".contains("temperature")) }
        o = signed.jsonObject
        o.removeValue(forKey: "temperature")
        XCTAssertEqual(try SignedCommitment(jsonObject: o), signed)
        for (k, v) in [("seed", 5 as Any), ("seed", "-1"), ("root", "00"), ("prompt_tokens", [-1]), ("output_tokens", [1 << 40]),
                       ("leaf_count", -1), ("signature", "xyz"), ("public_key", "00"), ("layers", 0), ("max_tokens", true)] {
            var bad = signed.jsonObject
            bad[k] = v
            XCTAssertThrowsError(try SignedCommitment(jsonObject: bad), "\(k) = \(v)")
        }
        for k in Commitment.jsonKeys where k != "temperature" {
            var bad = signed.jsonObject
            bad.removeValue(forKey: k)
            XCTAssertThrowsError(try SignedCommitment(jsonObject: bad), "without \(k)")
        }
        XCTAssertThrowsError(try SignedCommitment(json: "[]"))
        XCTAssertThrowsError(try SignedCommitment(json: "{"))
    }

    func testSignatureChecks() throws {
        let key = TraceFixtures.key
        let signed = try commitment().signed(with: key)
        XCTAssertNoThrow(try signed.verifySignature())
        XCTAssertNoThrow(try signed.verifySignature(publicKey: key.publicKey))
        let other = try Ed25519PrivateKey(seed: sha("other").bytes)
        XCTAssertThrowsError(try signed.verifySignature(publicKey: other.publicKey)) {
            XCTAssertEqual($0 as? CommitmentError, .publicKeyMismatch(expected: other.publicKey.hex, found: key.publicKey.hex))
        }
        let forged = SignedCommitment(commitment: signed.commitment, signature: signed.signature, publicKey: other.publicKey)
        XCTAssertThrowsError(try forged.verifySignature()) { XCTAssertEqual($0 as? CommitmentError, .badSignature) }
        // Ed25519 is deterministic: the same commitment and key give the same signature.
        XCTAssertEqual(try commitment().signed(with: key).signature, signed.signature)
    }
}
