import XCTest
import LockstepTestSupport
@testable import LockstepGGUF

final class GGUFMalformedCorpusTests: XCTestCase {
    func testBaseFileIsValidAndCoversEveryValueType() throws {
        let bytes = GGUFMalformedCorpus.baseFile()
        let f = try GGUFFile(bytes: bytes, name: "base.gguf")
        checkInvariants(f)
        XCTAssertEqual(f.version, 3)
        XCTAssertEqual(f.alignment, 32)
        XCTAssertEqual(f.metadata["general.architecture"], .string("llama"))
        XCTAssertEqual(f.metadata["test.strings"]?.arrayValue?.strings, ["alpha", "βeta", "", "<|im_end|>"])
        let scalarTypes = Set(f.metadata.values.map(\.typeName))
        for t in ["uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
                  "float32", "float64", "bool", "string", "array<string>", "array<array>"] {
            XCTAssert(scalarTypes.contains(t), "base file lacks a \(t) value")
        }
        XCTAssertEqual(f.tensors.map(\.type), [.f32, .q8_0, .q4_1])
        XCTAssertEqual(f.tensors.map(\.offset), [0, 32, 128])
        // The last tensor ends the file exactly, so no proper prefix can be valid.
        let last = f.tensors.last!
        XCTAssertEqual(f.dataOffset + last.offset + last.byteCount, bytes.count)
    }

    func testCaseIdentifiersAreUniqueAndCoverTheRequiredMutations() {
        let ids = GGUFMalformedCorpus.cases().map(\.id)
        XCTAssertEqual(Set(ids).count, ids.count)
        for required in ["wrong-magic", "version-1", "version-4", "absurd-tensor-count", "absurd-kv-count",
                         "absurd-string-length", "absurd-array-count", "unknown-value-type", "unknown-tensor-type",
                         "zero-dim", "too-many-dims", "dims-overflow", "dim0-not-multiple-of-block", "offset-past-end",
                         "misaligned-offset", "overlapping-tensors", "bad-alignment-value", "alignment-wrong-type",
                         "duplicate-key", "duplicate-tensor", "invalid-utf8-key", "data-section-past-end"] {
            XCTAssert(ids.contains(required), "missing corpus case \(required)")
        }
    }

    func testEveryCaseIsRejectedWithItsMessage() {
        let base = GGUFMalformedCorpus.baseFile()
        for c in GGUFMalformedCorpus.cases() {
            XCTAssertNotEqual(c.bytes, base, c.id)
            XCTAssertFalse(c.mutation.isEmpty, c.id)
            guard let error = expectRejection(c.bytes, name: "\(c.id).gguf") else { continue }
            XCTAssert(error.message.contains(c.expectedMessageFragment),
                      "\(c.id): expected a message containing \"\(c.expectedMessageFragment)\", got: \(error)")
            XCTAssertEqual(error.path, "\(c.id).gguf")
            XCTAssert(error.description.hasPrefix("\(c.id).gguf: "), error.description)
            if let offset = error.offset {
                XCTAssert(offset >= 0 && offset <= c.bytes.count, "\(c.id): offset \(offset) outside the file")
            }
        }
    }

    func testCasesAreRejectedFromDiskToo() throws {
        for c in GGUFMalformedCorpus.cases() where ["offset-past-end", "truncated-data", "empty-file", "wrong-magic"].contains(c.id) {
            let path = temporaryPath("\(c.id).gguf")
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            XCTAssertGreaterThanOrEqual(fd, 0)
            _ = c.bytes.withUnsafeBytes { write(fd, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, $0.count) }
            close(fd)
            defer { unlink(path) }
            do {
                _ = try GGUFFile(path: path)
                XCTFail("\(c.id) parsed from disk")
            } catch {
                XCTAssert(error.message.contains(c.expectedMessageFragment), "\(c.id): \(error)")
                XCTAssertEqual(error.path, path)
            }
        }
    }

    func testEveryProperPrefixIsRejected() {
        let bytes = GGUFMalformedCorpus.baseFile()
        var fields: Set<String> = []
        for n in 0..<bytes.count {
            guard let error = expectRejection(Array(bytes[0..<n]), name: "prefix-\(n)") else { continue }
            fields.insert(error.field.map { String($0.prefix { $0 != "'" && $0 != "#" }) } ?? "-")
            if let offset = error.offset { XCTAssert(offset <= n, "prefix \(n): offset \(offset)") }
        }
        // Truncation was detected inside every section: header, keys, values, tensor infos, data.
        for expected in ["header.magic", "header.version", "header.tensor_count", "header.kv_count",
                         "metadata key ", "key ", "tensor ", "data section"] {
            XCTAssert(fields.contains(expected), "no truncation detected in \(expected); saw \(fields.sorted())")
        }
    }

    func testRandomByteFlipsNeverCrash() {
        let base = GGUFMalformedCorpus.baseFile()
        let headerEnd = (try? GGUFFile(bytes: base))!.dataOffset
        var g = SplitMix64(seed: 0x10C5_7E9)
        // LOCKSTEP_FUZZ_ITERATIONS raises the count for a longer soak; the default runs in the suite.
        let iterations = ProcessInfo.processInfo.environment["LOCKSTEP_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 4000
        var parsed = 0, rejected = 0
        for i in 0..<iterations {
            var bytes = base
            let flips = 1 + Int(g.next() % 4)
            for _ in 0..<flips {
                // Mostly hit the header and tables, where the structure is.
                let limit = i % 4 == 0 ? bytes.count : headerEnd
                let at = Int(g.next() % UInt64(limit))
                switch g.next() % 3 {
                case 0: bytes[at] ^= UInt8(1 << (g.next() % 8))
                case 1: bytes[at] = UInt8(truncatingIfNeeded: g.next())
                default: bytes[at] = [0x00, 0xFF, 0x7F, 0x80][Int(g.next() % 4)]
                }
            }
            do {
                let f = try GGUFFile(bytes: bytes, name: "flip-\(i)")
                checkInvariants(f)
                parsed += 1
            } catch {
                XCTAssertFalse(error.message.isEmpty)
                rejected += 1
            }
        }
        XCTAssertEqual(parsed + rejected, iterations)
        XCTAssertGreaterThan(rejected, iterations / 4)
    }

    func testRandomTruncationsAndSplicesNeverCrash() {
        let base = GGUFMalformedCorpus.baseFile()
        var g = SplitMix64(seed: 42)
        for _ in 0..<1000 {
            // Copy a random run of the file over another place (duplicates fields, lengths, names).
            var bytes = base
            let len = 1 + Int(g.next() % 24)
            let from = Int(g.next() % UInt64(base.count - len)), to = Int(g.next() % UInt64(base.count - len))
            bytes.replaceSubrange(to..<(to + len), with: base[from..<(from + len)])
            if let f = try? GGUFFile(bytes: bytes) { checkInvariants(f) }
        }
    }
}
