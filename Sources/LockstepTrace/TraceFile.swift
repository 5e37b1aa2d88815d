import Foundation
import LockstepCore
import LockstepNative

/// The fixed part of a trace file (§7.7): the request (which holds the model shape that fixes
/// the step order and the size of every step state) and whether states are stored.
public struct TraceHeader: Hashable, Sendable {
    /// `LKSTRACE`.
    public static let magic: [UInt8] = Array("LKSTRACE".utf8)
    /// `LKSTEND` and a zero byte: the last 8 bytes of a complete trace.
    public static let endMagic: [UInt8] = Array("LKSTEND".utf8) + [0]
    /// The format version this build writes and reads.
    public static let formatVersion: UInt32 = 1
    /// Flag bit 0: every record carries its step state.
    public static let flagStates: UInt32 = 1

    public let request: TraceRequest
    /// Whether every record carries its step state (`--trace-activations`).
    public let storesStates: Bool

    public init(request: TraceRequest, storesStates: Bool) {
        self.request = request
        self.storesStates = storesStates
    }

    /// Residual width.
    public var dim: Int { request.shape.dim }
    /// Vocabulary size.
    public var vocabularySize: Int { request.shape.vocabularySize }
    /// Transformer blocks.
    public var layers: Int { request.shape.layers }

    /// The canonical step order.
    public var schedule: StepSchedule { StepSchedule(promptCount: request.promptTokens.count, layers: layers) }

    /// Bytes of a step's state: `4·dim` for embedding and layer steps, `4·vocab + 4` for sample steps.
    public func stateByteCount(_ kind: StepID.Kind) -> Int {
        kind == .sample ? 4 * vocabularySize + 4 : 4 * dim
    }

    /// Bytes of the state of step `index` (a leaf index) of this request's schedule.
    public func stateByteCount(at index: Int) -> Int { stateByteCount(schedule.step(at: index).kind) }

    /// Bytes of the states of `indices` (leaf indices, repeats counted), one after another.
    public func stateByteCount(of indices: [Int]) -> Int { indices.reduce(0) { $0 + stateByteCount(at: $1) } }

    /// The token a sample step's state ends with (its last 4 bytes, little-endian).
    ///
    /// - Precondition: `state` holds at least 4 bytes (a sample state holds `4 · vocabulary + 4`).
    public static func sampledToken(state: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(littleEndian: state.loadUnaligned(fromByteOffset: state.count - 4, as: UInt32.self))
    }

    /// Bytes before the request encoding: magic, version, flags, request length.
    static let fixedBytes = 20

    /// The header bytes.
    var bytes: [UInt8] {
        let r = request.encoding
        var w = ByteWriter(capacity: TraceHeader.fixedBytes + r.count)
        w.raw(TraceHeader.magic)
        w.u32(TraceHeader.formatVersion)
        w.u32(storesStates ? TraceHeader.flagStates : 0)
        w.u32(UInt32(r.count)); w.raw(r)
        return w.bytes
    }
}

/// Record type bytes.
enum RecordType {
    static let step: UInt8 = 0x01
    static let footer: UInt8 = 0x02
}

/// Size of a step record without its state: type, kind, position, layer, oᵢ, cᵢ.
let stepRecordFixedBytes = 1 + 9 + 32 + 32

/// Most bytes one read of `TraceReader.skimRecordsInParallel` fetches: the fixed parts of the
/// records in that span with the states between them, into one buffer per thread that every
/// read reuses. Fewer, larger reads instead of one system call per record, and no fresh memory
/// per read (on a virtual machine, touching fresh memory costs about as much as the read).
let skimReadBytes = 256 << 10

/// The largest state `TraceReader.skimRecordsInParallel` reads along between two fixed parts
/// (a layer state is 4·dim bytes: 2,304 for SmolLM2-135M). A larger one — a sample step's
/// logits, 4·vocab + 4 bytes (196,612 for SmolLM2-135M, 71% of its trace) — ends the read, and
/// the next record's fixed part starts another: one more system call (about 1 µs here) instead
/// of copying the state (about 40 µs for 196 KB).
let skimGapBytes = 16 << 10

/// A step record's fixed part after its type byte, as stored (not yet checked against the schedule).
struct StepRecordFields {
    let kindByte: UInt8
    let position: UInt32, layer: UInt32
    /// oᵢ and cᵢ.
    let stepDigest: Digest, chain: Digest

    /// Reads the `stepRecordFixedBytes − 1` bytes after the type byte (`r` must hold them).
    init(_ r: inout ByteReader) {
        kindByte = (try? r.u8("")) ?? 0
        position = (try? r.u32("")) ?? 0
        layer = (try? r.u32("")) ?? 0
        stepDigest = (try? r.digest("")) ?? Digest(bytes: [UInt8](repeating: 0, count: 32))
        chain = (try? r.digest("")) ?? stepDigest
    }

    /// The step these fields name; nil for an unknown kind.
    var step: StepID? { StepID.Kind(rawValue: kindByte).map { StepID(kind: $0, position: position, layer: layer) } }
}

// MARK: - Writing

/// Writes a trace file as the request runs (§7.7): the header at creation, each step record as
/// soon as its digest is known, the footer (signed commitment) at the end. Records go through a
/// stdio buffer; `flush()` pushes them to the file (the recorder flushes after every forward pass).
public final class TraceWriter {
    public let header: TraceHeader
    /// The file, or nil for an in-memory trace.
    public let path: String?
    /// Where the records go until `finish` renames the file to `path`.
    private let partialPath: String?
    private var file: UnsafeMutablePointer<FILE>?
    /// The in-memory trace's bytes (empty for a file).
    public private(set) var bytes: [UInt8] = []
    /// Step records written.
    public private(set) var recordCount = 0
    private var offset = 0
    private var finished = false

    /// Starts the trace file at `path` and writes the header. The records go to a temporary
    /// file beside it (`.NAME.partial-XXXXXX` in the same directory), which `finish` renames to
    /// `path` in one step: until then a file already at `path` is untouched, and no reader ever
    /// sees a half-written trace; `abandon`, or a writer dropped unfinished, removes it.
    /// The file's permissions are those `fopen` would give (`0666` less the creation mask).
    /// - Throws: `TraceError.io` naming the path when it is a directory or another file that is
    ///   not a regular one (a device such as `/dev/null`, a FIFO or a socket: the rename would
    ///   replace it, not write to it), or when the temporary file cannot be created.
    public init(path: String, header: TraceHeader) throws(TraceError) {
        self.header = header
        self.path = path
        var st = stat()
        if stat(path, &st) == 0 {
            switch st.st_mode & S_IFMT {
            case S_IFREG: break
            case S_IFDIR: throw .io("\(path): is a directory")
            default: throw .io("\(path): not a regular file; a trace goes to a new file or replaces a regular one, and would replace this one, not write to it")
            }
        }
        let url = URL(fileURLWithPath: path)
        var template = Array("\(url.deletingLastPathComponent().path)/.\(url.lastPathComponent).partial-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .io("\(path): cannot create (\(String(cString: strerror(errno))))") }
        let partial = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard fchmod(fd, 0o666 & ~currentFileCreationMask()) == 0, let f = fdopen(fd, "wb") else {
            let reason = String(cString: strerror(errno))
            close(fd); unlink(partial)
            throw .io("\(path): cannot create (\(reason))")
        }
        partialPath = partial
        file = f
        do { try write(header.bytes) } catch {
            abandon()
            throw error
        }
    }

    /// An in-memory trace (`bytes`).
    public init(header: TraceHeader) {
        self.header = header
        self.path = nil
        partialPath = nil
        bytes = header.bytes
        offset = bytes.count
    }

    deinit { if !finished { abandon() } }

    private func write(_ b: UnsafeRawBufferPointer) throws(TraceError) {
        precondition(!finished, "TraceWriter: write after finish")
        if let file {
            guard b.count == 0 || fwrite(b.baseAddress, 1, b.count, file) == b.count else {
                throw .io("\(path ?? ""): write failed (\(String(cString: strerror(errno))))")
            }
        } else {
            bytes.append(contentsOf: b)
        }
        offset += b.count
    }

    private func write(_ b: [UInt8]) throws(TraceError) {
        precondition(!finished, "TraceWriter: write after finish")
        if let file {
            guard b.isEmpty || fwrite(b, 1, b.count, file) == b.count else {
                throw .io("\(path ?? ""): write failed (\(String(cString: strerror(errno))))")
            }
        } else {
            bytes.append(contentsOf: b)
        }
        offset += b.count
    }

    /// Appends one step record. `state` (the step's canonical output bytes, in as many pieces as
    /// convenient) must be given exactly when the header says states are stored.
    public func append(_ step: StepID, stepDigest: Digest, chain: Digest, state: [UnsafeRawBufferPointer] = []) throws(TraceError) {
        var w = ByteWriter(capacity: stepRecordFixedBytes)
        w.u8(RecordType.step)
        w.raw(step.header)
        w.digest(stepDigest)
        w.digest(chain)
        try write(w.bytes)
        if header.storesStates {
            let n = state.reduce(0) { $0 + $1.count }
            precondition(n == header.stateByteCount(step.kind), "TraceWriter: state of \(step) is \(n) bytes, expected \(header.stateByteCount(step.kind))")
            for piece in state { try write(piece) }
        }
        recordCount += 1
    }

    /// Pushes buffered records to the file.
    public func flush() throws(TraceError) {
        if let file, fflush(file) != 0 { throw .io("\(path ?? ""): flush failed (\(String(cString: strerror(errno))))") }
    }

    /// Writes the footer (the signed commitment and the trailer), closes the file and gives it
    /// its name (`path`, replacing any file there).
    public func finish(_ signed: SignedCommitment) throws(TraceError) {
        let footerOffset = offset
        let c = signed.commitment.encoding
        var w = ByteWriter(capacity: 1 + 4 + c.count + 64 + 32 + 16)
        w.u8(RecordType.footer)
        w.u32(UInt32(c.count)); w.raw(c)
        w.raw(signed.signature)
        w.raw(signed.publicKey.rawRepresentation)
        w.u64(UInt64(footerOffset))
        w.raw(TraceHeader.endMagic)
        try write(w.bytes)
        try flush()
        if let file, let path, let partialPath {
            self.file = nil
            guard fclose(file) == 0 else {
                let reason = String(cString: strerror(errno))
                abandon()
                throw .io("\(path): close failed (\(reason))")
            }
            guard rename(partialPath, path) == 0 else {
                let reason = String(cString: strerror(errno))
                abandon()
                throw .io("\(path): cannot put the trace in place (\(reason))")
            }
        }
        finished = true
    }

    /// Closes and deletes an unfinished file (after a failed generation); a file that was at
    /// `path` before stays as it was.
    public func abandon() {
        if let file { fclose(file); self.file = nil }
        if let partialPath, !finished { unlink(partialPath) }
        finished = true
    }
}

// MARK: - Reading

/// Bounds-checked input from a file or from memory: every read is checked against the bytes left
/// before any allocation, so no length field can make the reader allocate more than the file holds.
///
/// A file is read with `pread`: sequential reads go through a window of `windowBytes` (one system
/// call per window for the small fields), `skip` moves without reading, and `read(at:count:_:)`
/// reads exactly the bytes asked for, anywhere in the file. The descriptions of what is read are
/// only built for an error.
final class TraceInput {
    let size: Int
    /// Bytes a sequential read fetches at a time.
    let windowBytes: Int
    private(set) var offset = 0
    private let memory: [UInt8]
    /// The open file, or -1 for input in memory.
    private let descriptor: Int32
    private let path: String
    /// The bytes of the file from `windowStart` on (`windowCount` of them valid), reused.
    private var window: [UInt8]
    private var windowStart = 0, windowCount = 0

    init(bytes: [UInt8]) {
        memory = bytes; size = bytes.count; path = "<memory>"; descriptor = -1; windowBytes = 0; window = []
    }

    /// - Parameter windowBytes: what a sequential read fetches at a time: many records for a
    ///   reader of every byte, one record's fixed part for a reader that skips the states.
    init(path: String, windowBytes: Int) throws(TraceError) {
        self.path = path
        self.windowBytes = windowBytes
        memory = []
        window = [UInt8](repeating: 0, count: windowBytes)
        // O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused as not a regular file).
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .io("\(path): cannot open (\(String(cString: strerror(errno))))") }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw .io("\(path): not a regular file")
        }
        descriptor = fd
        size = Int(st.st_size)
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    var remaining: Int { size - offset }

    /// The next `n` bytes.
    func read(_ n: Int, _ what: @autoclosure () -> String) throws(TraceError) -> [UInt8] {
        guard n >= 0, n <= remaining else { throw .truncated(offset: offset, what: what()) }
        defer { offset += n }
        if descriptor < 0 { return Array(memory[offset ..< offset + n]) }
        if n >= windowBytes { return try fileBytes(at: offset, count: n) }
        if offset < windowStart || offset + n > windowStart + windowCount {
            let count = min(windowBytes, remaining), position = offset
            guard window.withUnsafeMutableBytes({ fill(UnsafeMutableRawBufferPointer(rebasing: $0[..<count]), at: position) }) else {
                throw readFailure(at: position)
            }
            windowStart = position; windowCount = count
        }
        return Array(window[offset - windowStart ..< offset - windowStart + n])
    }

    /// Skips `n` bytes (bounds-checked like `read`; nothing is read or allocated).
    func skip(_ n: Int, _ what: @autoclosure () -> String) throws(TraceError) {
        guard n >= 0, n <= remaining else { throw .truncated(offset: offset, what: what()) }
        offset += n
    }

    /// `n` bytes from byte `position`, read on their own (the sequential position is unchanged).
    func read(at position: Int, count n: Int, _ what: @autoclosure () -> String) throws(TraceError) -> [UInt8] {
        guard position >= 0, n >= 0, n <= size - position else { throw .truncated(offset: position, what: what()) }
        return descriptor < 0 ? Array(memory[position ..< position + n]) : try fileBytes(at: position, count: n)
    }

    /// Reads `n` bytes from byte `position` into the start of `buffer` (grown when shorter, never
    /// shrunk: a reader of many spans reuses one buffer); false when they cannot be read.
    func read(at position: Int, count n: Int, into buffer: inout [UInt8]) -> Bool {
        guard position >= 0, n >= 0, n <= size - position else { return false }
        if buffer.count < n { buffer = [UInt8](repeating: 0, count: n) }
        return buffer.withUnsafeMutableBytes { read(at: position, into: UnsafeMutableRawBufferPointer(rebasing: $0[..<n])) }
    }

    /// Reads `buffer.count` bytes from byte `position` into `buffer`; false when they cannot be read.
    func read(at position: Int, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        let n = buffer.count
        guard position >= 0, n <= size - position else { return false }
        if descriptor < 0 {
            memory.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[position ..< position + n])) }
            return true
        }
        return fill(buffer, at: position)
    }

    private func fileBytes(at position: Int, count n: Int) throws(TraceError) -> [UInt8] {
        var filled = false
        // Not zero-filled first: every byte is read into, or the array is dropped.
        let out = [UInt8](unsafeUninitializedCapacity: n) { buffer, count in
            filled = fill(UnsafeMutableRawBufferPointer(buffer), at: position)
            count = filled ? n : 0
        }
        guard filled else { throw readFailure(at: position) }
        return out
    }

    /// Fills `buffer` with the file's bytes from `position` on; false when the file cannot give them.
    private func fill(_ buffer: UnsafeMutableRawBufferPointer, at position: Int) -> Bool {
        var done = 0
        while done < buffer.count {
            let got = pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(position + done))
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return false }
            done += got
        }
        return true
    }

    private func readFailure(at position: Int) -> TraceError {
        .io("\(path): read failed at or after byte \(position) (the file changed while being read?)")
    }

    func reader(_ n: Int, _ what: @autoclosure () -> String) throws(TraceError) -> ByteReader { ByteReader(try read(n, what())) }

    func u8(_ what: String) throws(TraceError) -> UInt8 { try read(1, what)[0] }
    func u32(_ what: String) throws(TraceError) -> UInt32 {
        var r = try reader(4, what)
        return (try? r.u32(what)) ?? 0
    }
}

/// One step record as read.
public struct TraceRecord: Sendable {
    public let index: Int
    public let step: StepID
    public let leaf: TraceLeaf
    /// The stored state (when the trace stores states and the reader keeps them).
    public let state: [UInt8]?
}

/// Everything a verified trace holds.
public struct TraceContents: Sendable {
    public let header: TraceHeader
    public let signed: SignedCommitment
    /// Every leaf, in order.
    public let leaves: [TraceLeaf]
    /// The step of each leaf.
    public let steps: [StepID]
    /// The stored states, when kept.
    public let states: [[UInt8]]?
    /// The Merkle tree over the leaves (for inclusion proofs).
    public let tree: MerkleTree
}

/// Reads a trace file record by record and verifies it as it goes (§7.7): the step order, every
/// chain value, every stored state against its step digest, and at the end the footer's
/// commitment against the header, the records, the Merkle root, the final chain value and the
/// signature.
public final class TraceReader {
    public let header: TraceHeader
    let input: TraceInput
    /// Steps over stored states instead of reading and hashing them (`TraceIndex`, which checks
    /// a state when it opens it); the sample states' tokens are then not compared either.
    let skipsStates: Bool
    private let schedule: StepSchedule
    private let hasher = SHA256Hasher(), chainHasher = SHA256Hasher()
    private var chain: Digest
    private var tree = MerkleTreeBuilder()
    /// Tokens at the end of the stored sample states, in order.
    private var sampledTokens: [UInt32] = []
    /// The signed commitment, once the footer has been read and verified.
    public private(set) var signed: SignedCommitment?
    /// Records read so far.
    public private(set) var recordCount = 0
    /// A key the commitment must be signed with (nil: any key).
    public let expectedPublicKey: Ed25519PublicKey?

    /// Opens a trace file and reads its header.
    public convenience init(path: String, expectedPublicKey: Ed25519PublicKey? = nil) throws(TraceError) {
        try self.init(input: try TraceInput(path: path, windowBytes: 1 << 16), expectedPublicKey: expectedPublicKey, skipsStates: false)
    }

    /// Reads a trace held in memory.
    public convenience init(bytes: [UInt8], expectedPublicKey: Ed25519PublicKey? = nil) throws(TraceError) {
        try self.init(input: TraceInput(bytes: bytes), expectedPublicKey: expectedPublicKey, skipsStates: false)
    }

    init(input: TraceInput, expectedPublicKey: Ed25519PublicKey?, skipsStates: Bool) throws(TraceError) {
        self.input = input
        self.expectedPublicKey = expectedPublicKey
        self.skipsStates = skipsStates
        guard try input.read(8, "magic") == TraceHeader.magic else { throw .badMagic }
        let version = try input.u32("format version")
        guard version == TraceHeader.formatVersion else { throw .unsupportedVersion(version) }
        let flags = try input.u32("flags")
        guard flags & ~TraceHeader.flagStates == 0 else { throw .unknownFlags(flags) }
        let lengthOffset = input.offset
        let requestLength = Int(try input.u32("request length"))
        guard requestLength <= input.remaining else { throw .truncated(offset: input.offset, what: "request (\(requestLength) bytes)") }
        var r = try input.reader(requestLength, "request")
        let request: TraceRequest
        do { request = try TraceRequest.decode(&r) } catch { throw .malformed(offset: lengthOffset + 4, "request: \(error)") }
        guard r.atEnd else { throw .malformed(offset: lengthOffset, "request length \(requestLength) leaves \(r.remaining) unused bytes") }
        header = TraceHeader(request: request, storesStates: flags & TraceHeader.flagStates != 0)
        schedule = header.schedule
        chain = request.chainStart
    }

    /// Reads the next step record; nil once the footer has been read and everything verified.
    public func next(keepState: Bool = false) throws(TraceError) -> TraceRecord? {
        if signed != nil { return nil }
        let start = input.offset
        let type = try input.u8("record type")
        switch type {
        case RecordType.step:
            var r = try input.reader(stepRecordFixedBytes - 1, "step record")
            let fields = StepRecordFields(&r)
            let o = fields.stepDigest, c = fields.chain
            let index = recordCount
            guard index < Int(UInt32.max) else { throw .limitExceeded(offset: start, "too many records") }
            let expected = schedule.step(at: index)
            guard let found = fields.step else { throw .malformed(offset: start + 1, "unknown step kind \(fields.kindByte)") }
            guard found == expected else { throw .unexpectedStep(index: index, expected: expected, found: found) }
            let kind = found.kind
            var state: [UInt8]? = nil
            if header.storesStates && skipsStates {
                try input.skip(header.stateByteCount(kind), "state of record \(index) (\(expected))")
            } else if header.storesStates {
                let bytes = try input.read(header.stateByteCount(kind), "state of record \(index) (\(expected))")
                let digest = bytes.withUnsafeBytes { StepDigest.stored(expected, stateBytes: $0, hasher: hasher) }
                guard digest == o else { throw .stepDigestMismatch(index: index) }
                if kind == .sample { sampledTokens.append(bytes.withUnsafeBytes { TraceHeader.sampledToken(state: $0) }) }
                if keepState { state = bytes }
            }
            let nextChain = TraceChain.next(chain, o, hasher: chainHasher)
            guard nextChain == c else { throw .chainMismatch(index: index) }
            chain = c
            let leaf = TraceLeaf(index: UInt64(index), stepDigest: o, chain: c)
            tree.append(leafHash: leaf.hash(using: hasher), using: hasher)
            recordCount += 1
            return TraceRecord(index: index, step: expected, leaf: leaf, state: state)
        case RecordType.footer:
            try readFooter(start: start)
            return nil
        default:
            throw .malformed(offset: start, "unknown record type 0x\(String(type, radix: 16))")
        }
    }

    /// Reads and checks every step record's fixed part on several threads, for a reader that
    /// skips the states (`TraceIndex`): the record layout the schedule gives must end exactly at
    /// the footer the trailer names; then each record's type, step, chain value (against the
    /// previous record's) and leaf hash are checked in parallel, and the leaves go into the Merkle
    /// tree (its subtrees hashed in parallel too). Records close together are read together
    /// (`skimReadBytes`), with no large state between them (`skimGapBytes`). The footer is left
    /// for `next()`, which verifies it as usual.
    ///
    /// Returns the leaves and the byte offset of each record's state; nil — with nothing consumed
    /// and no state changed — when anything does not check out, so that the caller reads the
    /// records one by one and reports the first fault exactly as a sequential read does.
    ///
    /// - Parameters:
    ///   - readBytes: the most bytes one read fetches (`skimReadBytes`; smaller in tests).
    ///   - gapBytes: the largest state one read takes along (`skimGapBytes`; smaller in tests).
    func skimRecordsInParallel(readBytes: Int = skimReadBytes, gapBytes: Int = skimGapBytes) -> (leaves: [TraceLeaf], stateOffsets: [Int])? {
        guard skipsStates, recordCount == 0, signed == nil else { return nil }
        // The footer offset from the trailer (the last 16 bytes); checked again by `readFooter`.
        guard input.size - input.offset >= 16, let trailer = try? input.read(at: input.size - 16, count: 16, "trailer"),
              Array(trailer[8...]) == TraceHeader.endMagic else { return nil }
        var t = ByteReader(trailer)
        guard let footer64 = try? t.u64("footer offset"), footer64 <= UInt64(input.size) else { return nil }
        let footer = Int(footer64)
        // The records the schedule puts before it (at least 74 bytes each: bounded by the file).
        var offsets: [Int] = []
        var at = input.offset
        while at < footer {
            offsets.append(at)
            let kind = schedule.step(at: offsets.count - 1).kind
            at += stepRecordFixedBytes + (header.storesStates ? header.stateByteCount(kind) : 0)
        }
        guard at == footer, !offsets.isEmpty else { return nil }
        let n = offsets.count
        // Parse the fixed parts, then check chain links and hash leaves, each on several threads.
        var parsed = [TraceLeaf?](repeating: nil, count: n)
        parsed.withUnsafeMutableBufferPointer { parsed in
            forEachRowRangeConcurrently(n) { range in
                var i = range.lowerBound, scratch: [UInt8] = []
                while i < range.upperBound {
                    // Records i ..< j: their fixed parts and the (small) states between them in one read.
                    var j = i + 1
                    while j < range.upperBound && offsets[j] + stepRecordFixedBytes - offsets[i] <= readBytes
                        && offsets[j] - offsets[j - 1] - stepRecordFixedBytes <= gapBytes { j += 1 }
                    defer { i = j }
                    let count = offsets[j - 1] + stepRecordFixedBytes - offsets[i]
                    guard input.read(at: offsets[i], count: count, into: &scratch) else { continue }
                    for k in i ..< j where scratch[offsets[k] - offsets[i]] == RecordType.step {
                        var r = ByteReader(scratch, offset: offsets[k] - offsets[i] + 1)
                        let fields = StepRecordFields(&r)
                        guard fields.step == schedule.step(at: k) else { continue }
                        parsed[k] = TraceLeaf(index: UInt64(k), stepDigest: fields.stepDigest, chain: fields.chain)
                    }
                }
            }
        }
        guard !parsed.contains(where: { $0 == nil }) else { return nil }
        let leaves = parsed.map { $0! }
        var leafHashes = [Digest?](repeating: nil, count: n)
        let start = header.request.chainStart
        leafHashes.withUnsafeMutableBufferPointer { leafHashes in
            leaves.withUnsafeBufferPointer { leaves in
                hashRowsInParallel(n) { range, hasher in
                    let mine = UnsafeBufferPointer(rebasing: leaves[range])
                    var links = [Digest](repeating: start, count: range.count), hashes = links
                    links.withUnsafeMutableBufferPointer {
                        TraceChain.links(after: range.lowerBound == 0 ? start : leaves[range.lowerBound - 1].chain, leaves: mine, hasher: hasher, into: $0)
                    }
                    hashes.withUnsafeMutableBufferPointer { TraceLeaf.hashes(mine, hasher: hasher, into: $0) }
                    for (k, i) in range.enumerated() where links[k] == leaves[i].chain { leafHashes[i] = hashes[k] }
                }
            }
        }
        guard !leafHashes.contains(where: { $0 == nil }), (try? input.skip(footer - input.offset, "records")) != nil else { return nil }
        tree.append(leafHashes: leafHashes.map { $0! })
        chain = leaves[n - 1].chain
        recordCount = n
        return (leaves, offsets.map { $0 + stepRecordFixedBytes })
    }

    private func readFooter(start: Int) throws(TraceError) {
        let lengthOffset = input.offset
        let length = Int(try input.u32("commitment length"))
        guard length <= input.remaining else { throw .truncated(offset: lengthOffset + 4, what: "commitment (\(length) bytes)") }
        let encoding = try input.read(length, "commitment")
        let signature = try input.read(64, "signature")
        let keyBytes = try input.read(32, "public key")
        let trailerOffset = input.offset
        var trailer = try input.reader(16, "trailer")
        let footerOffset = (try? trailer.u64("")) ?? 0
        guard footerOffset == UInt64(start) else { throw .malformed(offset: trailerOffset, "trailer names footer offset \(footerOffset), the footer is at \(start)") }
        guard (try? trailer.take(8, "").elementsEqual(TraceHeader.endMagic)) == true else { throw .malformed(offset: trailerOffset + 8, "bad end magic") }
        guard input.remaining == 0 else { throw .malformed(offset: input.offset, "\(input.remaining) bytes after the end of the trace") }

        let commitment: Commitment
        do { commitment = try Commitment(encoding: encoding) } catch { throw .commitment(error) }
        let key: Ed25519PublicKey
        do { key = try Ed25519PublicKey(rawRepresentation: keyBytes) } catch { throw .malformed(offset: trailerOffset - 32, "public key: \(error)") }
        let signed = SignedCommitment(commitment: commitment, signature: signature, publicKey: key)

        guard commitment.request == header.request else { throw .commitmentMismatch("its request differs from the trace header's") }
        let n = commitment.outputTokens.count
        guard n <= Int(commitment.request.maxTokens) else { throw .commitmentMismatch("\(n) output tokens exceed max tokens \(commitment.request.maxTokens)") }
        guard commitment.leafCount == UInt64(recordCount) else { throw .commitmentMismatch("leaf count \(commitment.leafCount), the trace has \(recordCount) records") }
        guard recordCount == schedule.leafCount(outputCount: n) else {
            throw .commitmentMismatch("\(recordCount) records, but \(n) output tokens need \(schedule.leafCount(outputCount: n))")
        }
        guard commitment.root == tree.root else { throw .commitmentMismatch("root \(commitment.root.hex), the records give \(tree.root.hex)") }
        guard commitment.finalChain == chain else { throw .commitmentMismatch("final chain \(commitment.finalChain.hex), the records give \(chain.hex)") }
        if header.storesStates && !skipsStates {
            guard sampledTokens == commitment.outputTokens.map({ UInt32(bitPattern: $0) }) else {
                throw .sampledTokensDiffer
            }
        }
        do {
            if let expectedPublicKey { try signed.verifySignature(publicKey: expectedPublicKey) } else { try signed.verifySignature() }
        } catch { throw .commitment(error) }
        self.signed = signed
    }

    /// The Merkle tree builder over the records read so far.
    var treeBuilder: MerkleTreeBuilder { tree }

    /// Reads and verifies the whole trace.
    public func readAll(keepStates: Bool = false) throws(TraceError) -> TraceContents {
        var leaves: [TraceLeaf] = [], steps: [StepID] = [], states: [[UInt8]] = []
        while let record = try next(keepState: keepStates) {
            leaves.append(record.leaf); steps.append(record.step)
            if let s = record.state { states.append(s) }
        }
        return TraceContents(header: header, signed: signed!, leaves: leaves, steps: steps,
                             states: keepStates && header.storesStates ? states : nil, tree: tree.tree())
    }

    /// Reads and verifies the trace file at `path`.
    public static func read(path: String, keepStates: Bool = false, expectedPublicKey: Ed25519PublicKey? = nil) throws(TraceError) -> TraceContents {
        try TraceReader(path: path, expectedPublicKey: expectedPublicKey).readAll(keepStates: keepStates)
    }

    /// Reads and verifies a trace held in memory.
    public static func read(bytes: [UInt8], keepStates: Bool = false, expectedPublicKey: Ed25519PublicKey? = nil) throws(TraceError) -> TraceContents {
        try TraceReader(bytes: bytes, expectedPublicKey: expectedPublicKey).readAll(keepStates: keepStates)
    }
}
