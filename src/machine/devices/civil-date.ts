/**
 * Calendar arithmetic without Date objects (the RTC converts on every register read): days
 * since 1970-01-01 to and from year, month, day, in the proleptic Gregorian calendar
 * (H. Hinnant's algorithms).
 */

/** Fields of a moment: seconds, minutes, hours, day of week (0 = Sunday), day, month, full year. */
export const SECOND = 0, MINUTE = 1, HOUR = 2, WEEKDAY = 3, DAY = 4, MONTH = 5, YEAR = 6;

export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month > 2 ? month - 3 : month + 9) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

/** Fills `fields` (indexed by SECOND .. YEAR) with the moment `epochSeconds` seconds after 1970-01-01 00:00:00. */
export function fieldsFromEpochSeconds(epochSeconds: number, fields: Int32Array): void {
  const days = Math.floor(epochSeconds / 86400);
  const secondOfDay = epochSeconds - days * 86400;
  fields[SECOND] = secondOfDay % 60;
  fields[MINUTE] = Math.floor(secondOfDay / 60) % 60;
  fields[HOUR] = Math.floor(secondOfDay / 3600);
  fields[WEEKDAY] = (((days + 4) % 7) + 7) % 7; // 1970-01-01 was a Thursday
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const dayOfEra = z - era * 146097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36524) - Math.floor(dayOfEra / 146096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const mp = Math.floor((5 * dayOfYear + 2) / 153);
  fields[DAY] = dayOfYear - Math.floor((153 * mp + 2) / 5) + 1;
  fields[MONTH] = mp < 10 ? mp + 3 : mp - 9;
  fields[YEAR] = yearOfEra + era * 400 + (fields[MONTH] <= 2 ? 1 : 0);
}

export function epochSecondsFromFields(fields: Int32Array): number {
  return daysFromCivil(fields[YEAR], fields[MONTH], fields[DAY]) * 86400 +
    fields[HOUR] * 3600 + fields[MINUTE] * 60 + fields[SECOND];
}
