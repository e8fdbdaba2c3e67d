import Foundation

/// A file name that is safe to use as the last component of a path on any common file
/// system, made from one a client sent (Werkzeug's `secure_filename`): the name is reduced to
/// ASCII letters, digits, `.`, `_` and `-` (accents are dropped from letters, path separators
/// and white space become `_`), leading and trailing dots and underscores are removed, and a
/// Windows device name (`CON`, `NUL`, …) gets a leading `_`. The result may be empty: choose a
/// name of your own then.
///
///     secureFilename("../../../etc/passwd")   // "etc_passwd"
///     secureFilename("My cool movie.mov")     // "My_cool_movie.mov"
///     secureFilename("résumé.pdf")            // "resume.pdf"
public func secureFilename(_ filename: String) -> String {
    // NFKD, as Werkzeug does: "é" becomes "e" and a combining accent, which is then dropped.
    var text = filename.decomposedStringWithCompatibilityMapping
    text = text.replacingOccurrences(of: "/", with: " ").replacingOccurrences(of: "\\", with: " ")
    let words = text.split(whereSeparator: { $0.isWhitespace })
    var kept = String(
        words.joined(separator: "_").unicodeScalars.filter { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || "._-".unicodeScalars.contains(scalar))
        }.map(Character.init)
    )
    while let first = kept.first, first == "." || first == "_" { kept.removeFirst() }
    while let last = kept.last, last == "." || last == "_" { kept.removeLast() }
    let stem = kept.split(separator: ".", maxSplits: 1).first.map { $0.uppercased() } ?? ""
    if windowsDeviceNames.contains(stem) { kept = "_" + kept }
    return kept
}

private let windowsDeviceNames: Set<String> = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "LPT1", "LPT2", "LPT3", "COM5", "COM6", "COM7", "COM8", "COM9",
    "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
]
