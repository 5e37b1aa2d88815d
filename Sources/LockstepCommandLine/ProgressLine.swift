import Foundation

/// The progress line both command-line tools show on stderr: rewritten in place as work advances
/// and cleared before the result is printed. Only on a terminal: a pipe or a log file gets the
/// result alone.
public enum StatusLine {
    /// Whether stderr is a terminal (else nothing is shown).
    public static let isShown = isatty(2) == 1

    /// Replaces the line with `text`.
    public static func show(_ text: String) {
        guard isShown else { return }
        StandardStreams.error("\r\u{1B}[K" + text)
    }

    /// Clears the line.
    public static func clear() {
        guard isShown else { return }
        StandardStreams.error("\r\u{1B}[K")
    }
}

/// A `StatusLine` that counts (`label: 47% (2025/4308)`), rewritten when the whole percentage
/// changes; never with `--json`.
public final class ProgressLine {
    private let label: String
    private var shownPercent = -1

    /// Runs `body` with the `report` of a line labelled `label` (nil when there is none) and
    /// clears the line when `body` returns or throws.
    public static func showing<T>(_ label: String, json: Bool, _ body: (((Int, Int) -> Void)?) throws -> T) rethrows -> T {
        let line = ProgressLine(label, json: json)
        defer { if line != nil { StatusLine.clear() } }
        return try body(line?.report)
    }

    /// nil when stderr is not a terminal or the output is JSON.
    private init?(_ label: String, json: Bool) {
        guard !json, StatusLine.isShown else { return nil }
        self.label = label
    }

    /// Shows `done` of `total` when the whole percentage changed.
    func report(_ done: Int, _ total: Int) {
        let percent = total > 0 ? 100 * done / total : 100
        guard percent != shownPercent else { return }
        shownPercent = percent
        StatusLine.show("\(label): \(percent)% (\(done)/\(total))")
    }
}
