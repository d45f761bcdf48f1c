import { z } from 'zod';

/**
 * zod schemas of the v2 records the client reads. Every schema is loose:
 * keys it does not name (custom fields at the top level of v1 payloads,
 * fields Pipedrive adds later) are kept as they came.
 */

const time = z.string().nullable().optional();
const idRef = z.number().int().nullable().optional();

/** An email or phone entry of a v2 person (`{ value, primary, label }`). */
export const contactValueSchema = z.looseObject({
  value: z.string(),
  primary: z.boolean().optional(),
  label: z.string().nullable().optional(),
});

/** Custom field values by field key (v2 nests them under `custom_fields`). */
export const customFieldsSchema = z.record(z.string(), z.unknown()).nullable().optional();

/** A v2 person. */
export const personSchema = z.looseObject({
  id: z.number().int(),
  name: z.string().nullable().optional(),
  first_name: z.string().nullable().optional(),
  last_name: z.string().nullable().optional(),
  owner_id: idRef,
  org_id: idRef,
  add_time: time,
  update_time: time,
  is_deleted: z.boolean().optional(),
  visible_to: z.number().int().nullable().optional(),
  label_ids: z.array(z.number().int()).nullable().optional(),
  emails: z.array(contactValueSchema).nullable().optional(),
  phones: z.array(contactValueSchema).nullable().optional(),
  custom_fields: customFieldsSchema,
});

/** A v2 organization. */
export const organizationSchema = z.looseObject({
  id: z.number().int(),
  name: z.string().nullable().optional(),
  owner_id: idRef,
  add_time: time,
  update_time: time,
  is_deleted: z.boolean().optional(),
  visible_to: z.number().int().nullable().optional(),
  label_ids: z.array(z.number().int()).nullable().optional(),
  address: z.unknown().optional(),
  custom_fields: customFieldsSchema,
});

/** A v2 deal. */
export const dealSchema = z.looseObject({
  id: z.number().int(),
  title: z.string().nullable().optional(),
  value: z.number().nullable().optional(),
  currency: z.string().nullable().optional(),
  status: z.string().nullable().optional(),
  stage_id: idRef,
  pipeline_id: idRef,
  person_id: idRef,
  org_id: idRef,
  owner_id: idRef,
  add_time: time,
  update_time: time,
  is_deleted: z.boolean().optional(),
  custom_fields: customFieldsSchema,
});

/** A v2 activity: only `id` is checked. */
export const activitySchema = z.looseObject({ id: z.number().int(), update_time: time });
/** A v2 product: only `id` is checked. */
export const productSchema = z.looseObject({ id: z.number().int(), update_time: time });

export type PipedrivePerson = z.infer<typeof personSchema>;
export type PipedriveOrganization = z.infer<typeof organizationSchema>;
export type PipedriveDeal = z.infer<typeof dealSchema>;
export type PipedriveActivity = z.infer<typeof activitySchema>;
export type PipedriveProduct = z.infer<typeof productSchema>;
