// Validates Argo CD objects against Argo CD's own CRD schemas, as packaged by
// @kubernetes-models/argo-cd (its validators are generated from Argo CD's CRDs).
// Input on stdin: a JSON array of objects. Output: a JSON array, one entry per object:
// {kind, name, ok, error}. Exit 0 whatever the outcome: the Python test judges.
import { AppProject } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject";
import { Application } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application";
import { ApplicationSet } from "@kubernetes-models/argo-cd/argoproj.io/v1alpha1/ApplicationSet";

const MODELS = { AppProject, Application, ApplicationSet };
const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const objects = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const results = objects.map((obj) => {
  const Model = obj.apiVersion === "argoproj.io/v1alpha1" ? MODELS[obj.kind] : undefined;
  const name = obj.metadata?.name ?? "";
  if (!Model) return { kind: obj.kind, name, ok: false, error: "no Argo CD schema for this kind" };
  try {
    new Model(obj).validate();
    return { kind: obj.kind, name, ok: true, error: "" };
  } catch (err) {
    return { kind: obj.kind, name, ok: false, error: String(err.message ?? err) };
  }
});
process.stdout.write(JSON.stringify(results));
