//go:build linux && cgo

package vulkan

import (
	"fmt"
	"runtime"

	"github.com/ijepa-go/ijepa/shaders"
	vk "github.com/vulkan-go/vulkan"
)

// Every kernel uses one pipeline layout: one descriptor set of maxBindings
// storage buffers (binding i is the op's argument i, bound as its whole
// block) and pushBytes of push constants (element offsets, then shapes and
// scalars). A shared layout keeps a bound descriptor set valid across
// pipeline changes.
const (
	maxBindings = 8
	pushBytes   = 128
	maxSpec     = 13
)

// pipeKey names a pipeline: a kernel and its specialisation constants
// (constant i = spec[i]; constant 0 is the workgroup size).
type pipeKey struct {
	kernel string
	n      int
	spec   [maxSpec]uint32
}

// setKey names a descriptor set by the block bound at each binding.
type setKey [maxBindings]uint32

type setEntry struct {
	set  vk.DescriptorSet
	pool vk.DescriptorPool
}

// setsPerPool is the number of descriptor sets of one pool.
const setsPerPool = 256

func (b *Backend) initLayouts() error {
	// Out-parameters are locals: cgo refuses pointers into the Backend,
	// which holds Go pointers.
	var setLayout vk.DescriptorSetLayout
	var pipeLayout vk.PipelineLayout
	var pipeCache vk.PipelineCache
	bindings := make([]vk.DescriptorSetLayoutBinding, maxBindings)
	for i := range bindings {
		bindings[i] = vk.DescriptorSetLayoutBinding{
			Binding:         uint32(i),
			DescriptorType:  vk.DescriptorTypeStorageBuffer,
			DescriptorCount: 1,
			StageFlags:      vk.ShaderStageFlags(vk.ShaderStageComputeBit),
		}
	}
	if res := vk.CreateDescriptorSetLayout(b.dev, &vk.DescriptorSetLayoutCreateInfo{
		SType:        vk.StructureTypeDescriptorSetLayoutCreateInfo,
		BindingCount: maxBindings,
		PBindings:    bindings,
	}, nil, &setLayout); res != vk.Success {
		return resultErr("create the descriptor set layout", res)
	}
	b.setLayout = setLayout
	if res := vk.CreatePipelineLayout(b.dev, &vk.PipelineLayoutCreateInfo{
		SType:                  vk.StructureTypePipelineLayoutCreateInfo,
		SetLayoutCount:         1,
		PSetLayouts:            []vk.DescriptorSetLayout{setLayout},
		PushConstantRangeCount: 1,
		PPushConstantRanges: []vk.PushConstantRange{{
			StageFlags: vk.ShaderStageFlags(vk.ShaderStageComputeBit),
			Size:       pushBytes,
		}},
	}, nil, &pipeLayout); res != vk.Success {
		return resultErr("create the pipeline layout", res)
	}
	b.pipeLayout = pipeLayout
	if res := vk.CreatePipelineCache(b.dev, &vk.PipelineCacheCreateInfo{
		SType: vk.StructureTypePipelineCacheCreateInfo,
	}, nil, &pipeCache); res != vk.Success {
		return resultErr("create the pipeline cache", res)
	}
	b.pipeCache = pipeCache
	return nil
}

// module returns the shader module of a kernel, creating it once.
func (b *Backend) module(name string) (vk.ShaderModule, error) {
	if m, ok := b.modules[name]; ok {
		return m, nil
	}
	code, err := shaders.SPIRV(name)
	if err != nil {
		return nil, err
	}
	var pin runtime.Pinner
	pin.Pin(&code[0])
	defer pin.Unpin()
	var m vk.ShaderModule
	if res := vk.CreateShaderModule(b.dev, &vk.ShaderModuleCreateInfo{
		SType:    vk.StructureTypeShaderModuleCreateInfo,
		CodeSize: uint(4 * len(code)),
		PCode:    code,
	}, nil, &m); res != vk.Success {
		return nil, resultErr("create shader module "+name, res)
	}
	b.modules[name] = m
	return m, nil
}

// pipeline returns the compute pipeline of a kernel with the given
// specialisation constants, creating it once.
func (b *Backend) pipeline(kernel string, spec ...uint32) (vk.Pipeline, error) {
	key := pipeKey{kernel: kernel, n: len(spec)}
	copy(key.spec[:], spec)
	if p, ok := b.pipes[key]; ok {
		return p, nil
	}
	mod, err := b.module(kernel)
	if err != nil {
		return nil, err
	}
	pipe, res := createComputePipeline(b.dev, b.pipeCache, mod, b.pipeLayout, spec)
	if res != vk.Success {
		return nil, resultErr(fmt.Sprintf("create pipeline %s%v", kernel, spec), res)
	}
	b.pipes[key] = pipe
	return pipe, nil
}

// descriptorSet returns the set binding blocks[i] at binding i, creating it
// once per combination of blocks.
func (b *Backend) descriptorSet(blocks []*block) (vk.DescriptorSet, error) {
	var key setKey
	for i := range key {
		blk := blocks[0]
		if i < len(blocks) && blocks[i] != nil {
			blk = blocks[i]
		}
		key[i] = blk.id
	}
	if e, ok := b.sets[key]; ok {
		return e.set, nil
	}
	var set vk.DescriptorSet
	pool, err := b.allocSet(&set)
	if err != nil {
		return nil, err
	}
	infos := make([]vk.DescriptorBufferInfo, maxBindings)
	for i := range infos {
		blk := blocks[0]
		if i < len(blocks) && blocks[i] != nil {
			blk = blocks[i]
		}
		infos[i] = vk.DescriptorBufferInfo{Buffer: blk.buf, Range: vk.DeviceSize(vk.WholeSize)}
	}
	vk.UpdateDescriptorSets(b.dev, 1, []vk.WriteDescriptorSet{{
		SType:           vk.StructureTypeWriteDescriptorSet,
		DstSet:          set,
		DescriptorCount: maxBindings,
		DescriptorType:  vk.DescriptorTypeStorageBuffer,
		PBufferInfo:     infos,
	}}, 0, nil)
	b.sets[key] = setEntry{set: set, pool: pool}
	return set, nil
}

// allocSet allocates a descriptor set from the newest pool, adding a pool
// when it is full.
func (b *Backend) allocSet(set *vk.DescriptorSet) (vk.DescriptorPool, error) {
	for attempt := 0; attempt < 2; attempt++ {
		if len(b.pools) > 0 {
			pool := b.pools[len(b.pools)-1]
			res := vk.AllocateDescriptorSets(b.dev, &vk.DescriptorSetAllocateInfo{
				SType:              vk.StructureTypeDescriptorSetAllocateInfo,
				DescriptorPool:     pool,
				DescriptorSetCount: 1,
				PSetLayouts:        []vk.DescriptorSetLayout{b.setLayout},
			}, set)
			if res == vk.Success {
				return pool, nil
			}
			if res != vk.ErrorOutOfPoolMemory && res != vk.ErrorFragmentedPool {
				return nil, resultErr("allocate a descriptor set", res)
			}
		}
		var pool vk.DescriptorPool
		if res := vk.CreateDescriptorPool(b.dev, &vk.DescriptorPoolCreateInfo{
			SType:         vk.StructureTypeDescriptorPoolCreateInfo,
			Flags:         vk.DescriptorPoolCreateFlags(vk.DescriptorPoolCreateFreeDescriptorSetBit),
			MaxSets:       setsPerPool,
			PoolSizeCount: 1,
			PPoolSizes:    []vk.DescriptorPoolSize{{Type: vk.DescriptorTypeStorageBuffer, DescriptorCount: setsPerPool * maxBindings}},
		}, nil, &pool); res != vk.Success {
			return nil, resultErr("create a descriptor pool", res)
		}
		b.pools = append(b.pools, pool)
	}
	return nil, fmt.Errorf("vulkan: a new descriptor pool has no room for a set")
}

// dropSets frees the descriptor sets that bind a block (being destroyed;
// no queued work uses them).
func (b *Backend) dropSets(id uint32) {
	for key, e := range b.sets {
		for _, k := range key {
			if k == id {
				set := e.set
				vk.FreeDescriptorSets(b.dev, e.pool, 1, &set)
				delete(b.sets, key)
				break
			}
		}
	}
	b.boundSet = nil
}
