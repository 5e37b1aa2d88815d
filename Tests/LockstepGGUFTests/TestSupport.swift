import XCTest
import LockstepTestSupport
@testable import LockstepGGUF

/// Parses `bytes` and returns the error, failing the test if parsing succeeded.
func expectRejection(_ bytes: [UInt8], name: String = "case.gguf",
                     file: StaticString = #filePath, line: UInt = #line) -> GGUFError? {
    do {
        let f = try GGUFFile(bytes: bytes, name: name)
        XCTFail("expected \(name) to be rejected, but it parsed (\(f.tensors.count) tensors)", file: file, line: line)
        return nil
    } catch {
        return error
    }
}

/// Deterministic filler bytes.
func patternBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var g = SplitMix64(seed: seed)
    return (0..<count).map { _ in UInt8(truncatingIfNeeded: g.next()) }
}

/// A fresh path under the temporary directory.
func temporaryPath(_ name: String) -> String {
    let dir = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
    return "\(dir)/lockstep-gguf-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))-\(name)"
}

/// Checks the invariants every successfully parsed file must satisfy.
func checkInvariants(_ f: GGUFFile, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssert(f.version == 2 || f.version == 3, file: file, line: line)
    XCTAssert(f.alignment >= 1 && f.alignment <= 65536 && f.alignment & (f.alignment - 1) == 0, file: file, line: line)
    XCTAssert(f.dataOffset % f.alignment == 0 && f.dataOffset <= f.fileSize, file: file, line: line)
    XCTAssertEqual(Set(f.metadataKeys).count, f.metadataKeys.count, file: file, line: line)
    XCTAssertEqual(Set(f.metadataKeys), Set(f.metadata.keys), file: file, line: line)
    var ranges: [Range<Int>] = []
    for t in f.tensors {
        XCTAssert((1...4).contains(t.dimensions.count) && t.dimensions.allSatisfy { $0 >= 1 }, file: file, line: line)
        XCTAssertEqual(t.dimensions.reduce(1, *), t.elementCount, file: file, line: line)
        XCTAssertEqual(t.type.byteCount(elements: t.elementCount), t.byteCount, file: file, line: line)
        XCTAssertEqual(t.offset % f.alignment, 0, file: file, line: line)
        XCTAssert(f.dataOffset + t.offset + t.byteCount <= f.fileSize, file: file, line: line)
        XCTAssertEqual(f.tensor(named: t.name), t, file: file, line: line)
        XCTAssertEqual(f.data(for: t).count, t.byteCount, file: file, line: line)
        ranges.append(t.offset..<(t.offset + t.byteCount))
    }
    ranges.sort { $0.lowerBound < $1.lowerBound }
    for (a, b) in zip(ranges, ranges.dropFirst()) { XCTAssert(a.upperBound <= b.lowerBound, file: file, line: line) }
}
