/**
 * Pod volumes: a name and exactly one source. The common sources are modelled
 * field by field; `projected`, `csi` and `ephemeral` are nested enough that a
 * loose record serves until the platform acts on them. Cloud-specific in-tree
 * sources get a message saying they are unsupported rather than "unknown field".
 */
import { z } from "zod";
import { exactlyOne, int32, quantity } from "./fields.js";
import { dnsLabel } from "./names.js";

const FILE_MODE = () => int32(0, 0o777);

const KeyToPath = z.strictObject({ key: z.string().min(1), path: z.string().min(1), mode: FILE_MODE().optional() });

const EmptyDir = z.strictObject({
  medium: z
    .string()
    .regex(/^(|Memory|HugePages(-.+)?)$/, 'must be "", "Memory" or "HugePages"')
    .optional(),
  sizeLimit: quantity().optional(),
});

const ConfigMapVolume = z.strictObject({
  name: z.string().optional(),
  items: z.array(KeyToPath).optional(),
  defaultMode: FILE_MODE().optional(),
  optional: z.boolean().optional(),
});

const SecretVolume = z.strictObject({
  secretName: z.string().optional(),
  items: z.array(KeyToPath).optional(),
  defaultMode: FILE_MODE().optional(),
  optional: z.boolean().optional(),
});

const DownwardAPIVolume = z.strictObject({
  items: z
    .array(
      z.strictObject({
        path: z.string().min(1),
        fieldRef: z.strictObject({ fieldPath: z.string().min(1), apiVersion: z.string().optional() }).optional(),
        resourceFieldRef: z
          .strictObject({
            containerName: z.string().optional(),
            resource: z.string().min(1),
            divisor: quantity().optional(),
          })
          .optional(),
        mode: FILE_MODE().optional(),
      }),
    )
    .optional(),
  defaultMode: FILE_MODE().optional(),
});

const HOST_PATH_TYPES = [
  "",
  "DirectoryOrCreate",
  "Directory",
  "FileOrCreate",
  "File",
  "Socket",
  "CharDevice",
  "BlockDevice",
] as const;

const looseRecord = () => z.record(z.string(), z.unknown());

const sourceShape = {
  emptyDir: EmptyDir.optional(),
  configMap: ConfigMapVolume.optional(),
  secret: SecretVolume.optional(),
  persistentVolumeClaim: z.strictObject({ claimName: z.string().min(1), readOnly: z.boolean().optional() }).optional(),
  hostPath: z.strictObject({ path: z.string().min(1), type: z.enum(HOST_PATH_TYPES).optional() }).optional(),
  downwardAPI: DownwardAPIVolume.optional(),
  nfs: z
    .strictObject({ server: z.string().min(1), path: z.string().min(1), readOnly: z.boolean().optional() })
    .optional(),
  image: z
    .strictObject({
      reference: z.string().optional(),
      pullPolicy: z.enum(["Always", "IfNotPresent", "Never"]).optional(),
    })
    .optional(),
  projected: looseRecord().optional(),
  csi: looseRecord().optional(),
  ephemeral: looseRecord().optional(),
};

export const VOLUME_SOURCES = Object.keys(sourceShape);

/** In-tree sources Kubernetes still parses but this platform cannot provide. */
const UNSUPPORTED_SOURCES = [
  "awsElasticBlockStore",
  "azureDisk",
  "azureFile",
  "cephfs",
  "cinder",
  "fc",
  "flexVolume",
  "flocker",
  "gcePersistentDisk",
  "gitRepo",
  "glusterfs",
  "iscsi",
  "photonPersistentDisk",
  "portworxVolume",
  "quobyte",
  "rbd",
  "scaleIO",
  "storageos",
  "vsphereVolume",
];

// Typed as empty on purpose: these fields can never hold a value, so they have no place in the output type.
const unsupportedShape = Object.fromEntries(
  UNSUPPORTED_SOURCES.map((source) => [
    source,
    z
      .never({ error: `volume source "${source}" is not supported; use one of: ${VOLUME_SOURCES.join(", ")}` })
      .optional(),
  ]),
) as Record<never, never>;

export const Volume = z
  .strictObject({ name: dnsLabel(), ...sourceShape, ...unsupportedShape })
  .superRefine(exactlyOne(VOLUME_SOURCES, "volume source"));
export type Volume = z.infer<typeof Volume>;
