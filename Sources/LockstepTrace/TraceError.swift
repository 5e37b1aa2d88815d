/// Why a trace cannot be written, read or verified. Every malformed, truncated or corrupted
/// trace file gives one of these (never a crash), naming the byte offset or the step at fault.
public enum TraceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file cannot be opened, read or written.
    case io(String)
    /// The file does not start with the trace magic `LKSTRACE`.
    case badMagic
    /// The format version is not one this reader knows.
    case unsupportedVersion(UInt32)
    /// Flag bits this reader does not know are set.
    case unknownFlags(UInt32)
    /// The file ends inside `what`, which starts at byte `offset`.
    case truncated(offset: Int, what: String)
    /// A field at byte `offset` has a value the format does not allow.
    case malformed(offset: Int, String)
    /// A size or count at byte `offset` is beyond the reader's limits.
    case limitExceeded(offset: Int, String)
    /// Record `index` is not the step the canonical order puts there.
    case unexpectedStep(index: Int, expected: StepID, found: StepID)
    /// Record `index`'s chain value is not `SHA-256(previous ‖ step digest)`.
    case chainMismatch(index: Int)
    /// Record `index`'s stored state does not hash to its step digest.
    case stepDigestMismatch(index: Int)
    /// The footer's commitment disagrees with the records or the header.
    case commitmentMismatch(String)
    /// The footer's commitment or signature is rejected.
    case commitment(CommitmentError)
    /// The generation itself failed (bad prompt, context overflow, …).
    case generation(String)

    public var description: String {
        switch self {
        case let .io(why): return "trace I/O: \(why)"
        case .badMagic: return "not a Lockstep trace file (bad magic)"
        case let .unsupportedVersion(v): return "unsupported trace format version \(v)"
        case let .unknownFlags(f): return "unknown trace flags 0x\(String(f, radix: 16))"
        case let .truncated(offset, what): return "trace truncated: \(what) at byte \(offset) runs past the end of the file"
        case let .malformed(offset, why): return "malformed trace at byte \(offset): \(why)"
        case let .limitExceeded(offset, why): return "trace limit exceeded at byte \(offset): \(why)"
        case let .unexpectedStep(index, expected, found): return "record \(index) is step \(found), expected \(expected)"
        case let .chainMismatch(index): return "record \(index): the chain value does not follow from the previous one and the step digest"
        case let .stepDigestMismatch(index): return "record \(index): the stored state does not hash to the step digest"
        case let .commitmentMismatch(why): return "the commitment does not match the trace: \(why)"
        case let .commitment(e): return e.description
        case let .generation(why): return why
        }
    }
}

extension TraceError {
    /// The tokens at the end of the sample steps' states are not the commitment's output tokens.
    static let sampledTokensDiffer = TraceError.commitmentMismatch("the output tokens differ from the tokens in the sample steps' states")
}
