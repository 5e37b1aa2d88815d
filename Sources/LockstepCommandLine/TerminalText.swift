/// `text` safe to print on a terminal: every control character other than line feed and tab
/// (C0, DEL and C1: what a terminal acts on, such as escape sequences that move the cursor or
/// clear the screen) is written as `\u{XX}`. A verifier's report quotes what a prover wrote
/// (a contract version, a URL's answer), which must not be able to redraw the verdict.
public func terminalSafe(_ text: String) -> String {
    var out = String.UnicodeScalarView()
    for scalar in text.unicodeScalars {
        let v = scalar.value
        if (v < 0x20 && v != 0x0A && v != 0x09) || (0x7F ... 0x9F).contains(v) {
            out.append(contentsOf: "\\u{\(String(v, radix: 16, uppercase: true))}".unicodeScalars)
        } else {
            out.append(scalar)
        }
    }
    return String(out)
}
