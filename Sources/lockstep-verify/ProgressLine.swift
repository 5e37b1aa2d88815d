import Foundation

/// A progress line on stderr (`label: 47% (2025/4308)`), rewritten in place as work advances and
/// cleared before the verdict is printed. Only on a terminal, and never with `--json`: a pipe or a
/// log file gets the verdict alone.
final class ProgressLine {
    private let label: String
    private var shownPercent = -1

    /// Runs `body` with the `report` of a line labelled `label` (nil when there is none) and
    /// clears the line when `body` returns or throws.
    static func showing<T>(_ label: String, json: Bool, _ body: (((Int, Int) -> Void)?) throws -> T) rethrows -> T {
        let line = ProgressLine(label, json: json)
        defer { line?.end() }
        return try body(line?.report)
    }

    /// nil when stderr is not a terminal or the output is JSON.
    private init?(_ label: String, json: Bool) {
        guard !json, isatty(2) == 1 else { return nil }
        self.label = label
    }

    /// Shows `done` of `total` when the whole percentage changed.
    func report(_ done: Int, _ total: Int) {
        let percent = total > 0 ? 100 * done / total : 100
        guard percent != shownPercent else { return }
        shownPercent = percent
        FileHandle.standardError.write(Data("\r\u{1B}[K\(label): \(percent)% (\(done)/\(total))".utf8))
    }

    /// Clears the line.
    func end() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
