/**
 * Validate a launchd plist against Apple's PropertyList DTD (our copy in
 * test/fixtures/plist), with libxml2 compiled to WebAssembly (the npm package
 * libxml2-wasm): the parser and DTD validator that `xmllint --dtdvalid` runs,
 * installed by `npm ci` on every machine instead of by apt.
 *
 * Offline: the plist's DOCTYPE names apple.com, so loading external entities
 * is turned off and the DTD comes from our copy.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DtdValidator, ParseOption, XmlDocument, XmlDtd, XmlParseError, XmlValidateError, type ErrorDetail } from 'libxml2-wasm';
import { fixturesDir } from './fixtures.js';

export const PLIST_DTD = path.join(fixturesDir, 'plist', 'PropertyList-1.0.dtd');

export interface PlistValidation {
  valid: boolean;
  /** libxml2's messages, one `file:line: message` a line; empty when valid. */
  errors: string;
}

// Parsed once per test file and kept for the worker's life: the DTD never changes.
let plistValidator: DtdValidator | undefined;
const validator = (): DtdValidator => (plistValidator ??= new DtdValidator(XmlDtd.fromString(readFileSync(PLIST_DTD, 'utf8'))));

const formatDetails = (details: ErrorDetail[]): string => details.map((d) => `${d.file ?? '?'}:${d.line}: ${d.message.trim()}`).join('\n');

/**
 * A file that is not well-formed XML or does not follow the DTD is invalid.
 * Any other failure (the validator itself broken) throws: it must never pass
 * for "invalid", or the tests that expect a rejection could not fail.
 */
export function validatePlist(file: string): PlistValidation {
  let doc: XmlDocument | undefined;
  try {
    doc = XmlDocument.fromBuffer(readFileSync(file), {
      url: file,
      option: ParseOption.XML_PARSE_NONET | ParseOption.XML_PARSE_NO_XXE,
    });
    validator().validate(doc);
    return { valid: true, errors: '' };
  } catch (error) {
    if (error instanceof XmlParseError || error instanceof XmlValidateError) return { valid: false, errors: formatDetails(error.details) };
    throw error;
  } finally {
    doc?.dispose();
  }
}
